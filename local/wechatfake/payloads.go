package wechatfake

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The payloads are WeChat's XML as it sends it: strings in CDATA sections,
// CreateTime in Unix seconds. toUser is the account's original id
// ("gh_..."), openid the contact's.

// TextMessage is a text message of openid to the account toUser, with the
// message id msgID, sent at at.
func TextMessage(toUser, openid string, msgID int64, text string, at time.Time) []byte {
	return message(toUser, openid, "text", at, [][2]string{{"Content", text}, {"MsgId", strconv.FormatInt(msgID, 10)}})
}

// ImageMessage is an image message of openid to the account toUser: the
// media mediaID (PicUrl a plain-HTTP URL of it, as WeChat's).
func ImageMessage(toUser, openid string, msgID int64, mediaID string, at time.Time) []byte {
	return message(toUser, openid, "image", at, [][2]string{{"PicUrl", "http://mmbiz.qpic.cn/mmbiz_jpg/" + mediaID + "/0"},
		{"MediaId", mediaID}, {"MsgId", strconv.FormatInt(msgID, 10)}})
}

// Event is an event of kind ("subscribe", "unsubscribe", "CLICK", "SCAN",
// "VIEW", "LOCATION"...) of openid, to the account "gh_wechatfake", at at.
func Event(openid, kind string, at time.Time) []byte {
	return message("gh_wechatfake", openid, "event", at, [][2]string{{"Event", kind}, {"EventKey", ""}})
}

func message(toUser, openid, typ string, at time.Time, fields [][2]string) []byte {
	var b bytes.Buffer
	b.WriteString("<xml>")
	element(&b, "ToUserName", toUser)
	element(&b, "FromUserName", openid)
	b.WriteString("<CreateTime>" + strconv.FormatInt(at.Unix(), 10) + "</CreateTime>")
	element(&b, "MsgType", typ)
	for _, f := range fields {
		if f[0] == "MsgId" {
			b.WriteString("<MsgId>" + f[1] + "</MsgId>")
			continue
		}
		element(&b, f[0], f[1])
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

// element writes <name><![CDATA[value]]></name>, splitting the CDATA
// section around any "]]>" in value.
func element(b *bytes.Buffer, name, value string) {
	b.WriteString("<" + name + "><![CDATA[" + strings.ReplaceAll(value, "]]>", "]]]]><![CDATA[>") + "]]></" + name + ">")
}

// Sign is WeChat's signature of the URL token, a timestamp, a nonce and, in
// safe mode, the Encrypt element (extra): the hex SHA-1 of the parts sorted
// and concatenated.
func Sign(token, timestamp, nonce string, extra ...string) string {
	parts := append([]string{token, timestamp, nonce}, extra...)
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// Encrypt is plain as WeChat encrypts it for the account appID in safe mode
// with the EncodingAESKey aesKey: 16 random bytes, the length of plain (4
// bytes, big-endian), plain and appID, PKCS#7-padded to 32 bytes,
// AES-256-CBC with the key's first 16 bytes as IV, in base64.
func Encrypt(aesKey, appID string, plain []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(aesKey + "=")
	if err != nil || len(key) != 32 {
		return "", errors.New("wechatfake: the AES key is not 43 characters of base64")
	}
	buf := make([]byte, 20, 20+len(plain)+len(appID)+32)
	if _, err := rand.Read(buf[:16]); err != nil {
		return "", err
	}
	binary.BigEndian.PutUint32(buf[16:], uint32(len(plain)))
	buf = append(append(buf, plain...), appID...)
	pad := 32 - len(buf)%32
	buf = append(buf, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Envelope is the body WeChat posts in safe mode: the account toUser and the
// encrypted message.
func Envelope(toUser, encrypted string) []byte {
	var b bytes.Buffer
	b.WriteString("<xml>")
	element(&b, "ToUserName", toUser)
	element(&b, "Encrypt", encrypted)
	b.WriteString("</xml>")
	return b.Bytes()
}

// Nonce is a random nonce as WeChat's: a decimal number.
func Nonce() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1e10))
	if err != nil {
		return "1320562132"
	}
	return n.String()
}

// Signed is the request WeChat posts to the server URL for the message
// body, at at: its query (signature, timestamp, nonce and openid; in safe
// mode, aesKey set, also encrypt_type=aes and msg_signature) and the body to
// post (body itself in plain mode; in safe mode the envelope of body
// encrypted for appID).
func Signed(token, aesKey, appID string, body []byte, at time.Time) (query map[string]string, post []byte, err error) {
	var head struct {
		ToUserName   string `xml:"ToUserName"`
		FromUserName string `xml:"FromUserName"`
	}
	xml.Unmarshal(body, &head) // best effort: only the openid and the account
	ts, nonce := strconv.FormatInt(at.Unix(), 10), Nonce()
	query = map[string]string{"signature": Sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}
	if head.FromUserName != "" {
		query["openid"] = head.FromUserName
	}
	if aesKey == "" {
		return query, body, nil
	}
	enc, err := Encrypt(aesKey, appID, body)
	if err != nil {
		return nil, nil, err
	}
	query["encrypt_type"], query["msg_signature"] = "aes", Sign(token, ts, nonce, enc)
	return query, Envelope(head.ToUserName, enc), nil
}

// Handshake is the query of WeChat's GET check of the server URL, at at:
// signature, timestamp, nonce and echostr.
func Handshake(token, echostr string, at time.Time) map[string]string {
	ts, nonce := strconv.FormatInt(at.Unix(), 10), Nonce()
	return map[string]string{"signature": Sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": echostr}
}

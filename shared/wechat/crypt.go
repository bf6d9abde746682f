package wechat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/livesupportbot/backend/shared/channel"
)

// AESKeyLength is the length of an EncodingAESKey: 43 characters of base64,
// 32 bytes.
const AESKeyLength = 43

// padBlock is the block of WeChat's PKCS#7 padding: 32 bytes (pad values 1
// to 32), not AES's 16.
const padBlock = 32

// randomPrefix is the random bytes before an encrypted message's length.
const randomPrefix = 16

// ErrAESKey means an EncodingAESKey is not 43 characters of base64 (32
// bytes): no request can verify with it (Connect refuses it).
var ErrAESKey = errors.New("wechat: EncodingAESKey is not 43 characters of base64")

// aesKey decodes an EncodingAESKey: base64 of 32 bytes without its "=".
func aesKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != AESKeyLength {
		return nil, ErrAESKey
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, ErrAESKey
	}
	return key, nil
}

// Encrypt is msg as WeChat encrypts a message of the account appID in safe
// mode: 16 random bytes, msg's length (4 bytes, big-endian), msg and appID,
// padded with PKCS#7 to 32 bytes, AES-256-CBC with the key and the key's
// first 16 bytes as IV, in base64. It fails only for a key that is not an
// EncodingAESKey.
func Encrypt(encodingAESKey, appID string, msg []byte) (string, error) {
	key, err := aesKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	plain := make([]byte, randomPrefix+4, randomPrefix+4+len(msg)+len(appID)+padBlock)
	if _, err := rand.Read(plain[:randomPrefix]); err != nil {
		return "", fmt.Errorf("wechat: random prefix: %w", err)
	}
	binary.BigEndian.PutUint32(plain[randomPrefix:], uint32(len(msg)))
	plain = append(append(plain, msg...), appID...)
	pad := padBlock - len(plain)%padBlock
	for range pad {
		plain = append(plain, byte(pad))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", ErrAESKey
	}
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}

// Decrypt is the message of encrypted (an envelope's Encrypt element), which
// must be of the account appID: the reverse of Encrypt, with every step
// checked (base64, whole AES blocks, PKCS#7 padding of 1 to 32 equal bytes,
// a length within the message, the app id after it equal to appID, in
// constant time). A failure wraps channel.ErrUnverified and names only the
// step. A key that is not an EncodingAESKey fails too (ErrAESKey).
func Decrypt(encodingAESKey, appID, encrypted string) ([]byte, error) {
	key, err := aesKey(encodingAESKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", channel.ErrUnverified, err)
	}
	if appID == "" {
		return nil, fmt.Errorf("%w: no wechat app id configured", channel.ErrUnverified)
	}
	if len(encrypted) > channel.MaxBody {
		return nil, fmt.Errorf("%w: encrypted message over %d bytes", channel.ErrUnverified, channel.MaxBody)
	}
	data, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("%w: encrypted message is not base64", channel.ErrUnverified)
	}
	if len(data) < padBlock || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted message is not whole AES blocks", channel.ErrUnverified)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", channel.ErrUnverified, ErrAESKey)
	}
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(data, data)
	pad := int(data[len(data)-1])
	if pad < 1 || pad > padBlock || pad > len(data) {
		return nil, fmt.Errorf("%w: encrypted message has a bad padding", channel.ErrUnverified)
	}
	for _, b := range data[len(data)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: encrypted message has a bad padding", channel.ErrUnverified)
		}
	}
	data = data[:len(data)-pad]
	if len(data) < randomPrefix+4 {
		return nil, fmt.Errorf("%w: encrypted message too short", channel.ErrUnverified)
	}
	n := binary.BigEndian.Uint32(data[randomPrefix:])
	rest := data[randomPrefix+4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: encrypted message's length is over its size", channel.ErrUnverified)
	}
	msg, id := rest[:n], rest[n:]
	if subtle.ConstantTimeCompare(id, []byte(appID)) != 1 {
		return nil, fmt.Errorf("%w: encrypted message is not of the account's app id", channel.ErrUnverified)
	}
	return msg, nil
}

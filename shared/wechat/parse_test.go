package wechat_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/wechat"
)

// Messages shaped as WeChat sends them.
const (
	msgHead = `<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><FromUserName><![CDATA[oia2TjjewbmiOUlr6X-1crbLOvLw]]></FromUserName><CreateTime>1348831860</CreateTime>`
	// 2^63-1: a MsgId above 2^53 survives exactly.
	msgID = `<MsgId>9223372036854775807</MsgId></xml>`
)

func wire(typ, fields string) string {
	return msgHead + `<MsgType><![CDATA[` + typ + `]]></MsgType>` + fields + msgID
}

func event(name string) string {
	return msgHead + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[` + name + `]]></Event><EventKey><![CDATA[qrscene_123]]></EventKey></xml>`
}

func TestParse(t *testing.T) {
	at := time.Unix(1348831860, 0).UTC()
	msg := func(text string, att ...channel.Attachment) channel.Event {
		return channel.Event{Kind: channel.KindMessage, DedupeKey: "9223372036854775807", Text: text, At: at, Attachments: att,
			From: channel.Identity{Channel: "wechat", UserID: "oia2TjjewbmiOUlr6X-1crbLOvLw"}}
	}
	for _, tc := range []struct {
		name string
		body string
		want *channel.Event // nil: no event
	}{
		{"text", wire("text", `<Content><![CDATA[你好, <b>world</b>]]></Content>`), ptr(msg("你好, <b>world</b>"))},
		{"text escaped, not CDATA", wire("text", `<Content>a &amp; b &lt;3</Content>`), ptr(msg("a & b <3"))},
		{"empty text", wire("text", `<Content></Content>`), ptr(msg("[text]"))},
		{"image by media id, not PicUrl", wire("image", `<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[media_1]]></MediaId>`),
			ptr(msg("", channel.Attachment{MediaID: "media_1", Name: "image.jpg", ContentType: "image/jpeg"}))},
		{"image without media id", wire("image", `<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl>`), ptr(msg("[image]"))},
		{"voice amr", wire("voice", `<MediaId><![CDATA[v1]]></MediaId><Format><![CDATA[amr]]></Format>`),
			ptr(msg("", channel.Attachment{MediaID: "v1", Name: "voice.amr", ContentType: "audio/amr"}))},
		{"voice speex recognised", wire("voice", `<MediaId><![CDATA[v2]]></MediaId><Format><![CDATA[Speex]]></Format><Recognition><![CDATA[腾讯微信团队]]></Recognition>`),
			ptr(msg("腾讯微信团队", channel.Attachment{MediaID: "v2", Name: "voice.speex", ContentType: "audio/speex"}))},
		{"voice of an unknown format", wire("voice", `<MediaId><![CDATA[v3]]></MediaId><Format><![CDATA[wav;x]]></Format>`),
			ptr(msg("", channel.Attachment{MediaID: "v3", Name: "voice"}))},
		{"video", wire("video", `<MediaId><![CDATA[m1]]></MediaId><ThumbMediaId><![CDATA[t1]]></ThumbMediaId>`),
			ptr(msg("", channel.Attachment{MediaID: "m1", Name: "video.mp4", ContentType: "video/mp4"}))},
		{"shortvideo", wire("shortvideo", `<MediaId><![CDATA[m2]]></MediaId><ThumbMediaId><![CDATA[t2]]></ThumbMediaId>`),
			ptr(msg("", channel.Attachment{MediaID: "m2", Name: "video.mp4", ContentType: "video/mp4"}))},
		{"location", wire("location", `<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[广州市天河区]]></Label>`),
			ptr(msg("[location] 广州市天河区"))},
		{"location without label", wire("location", `<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Label></Label>`),
			ptr(msg("[location] 23.134521,113.358803"))},
		{"link", wire("link", `<Title><![CDATA[公众平台官网链接]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[https://mp.weixin.qq.com]]></Url>`),
			ptr(msg("公众平台官网链接\nhttps://mp.weixin.qq.com"))},
		{"unknown type with MsgId", wire("miniprogrampage", `<Title>x</Title>`), ptr(msg("[miniprogrampage]"))},
		{"subscribe", event("subscribe"), &channel.Event{Kind: channel.KindSubscribed, DedupeKey: "subscribe:oia2TjjewbmiOUlr6X-1crbLOvLw:1348831860",
			At: at, From: channel.Identity{Channel: "wechat", UserID: "oia2TjjewbmiOUlr6X-1crbLOvLw"}}},
		{"unsubscribe", event("unsubscribe"), &channel.Event{Kind: channel.KindUnsubscribed, DedupeKey: "unsubscribe:oia2TjjewbmiOUlr6X-1crbLOvLw:1348831860",
			At: at, From: channel.Identity{Channel: "wechat", UserID: "oia2TjjewbmiOUlr6X-1crbLOvLw"}}},
		{"CLICK", event("CLICK"), nil},
		{"VIEW", event("VIEW"), nil},
		{"SCAN", event("SCAN"), nil},
		{"LOCATION event", event("LOCATION"), nil},
		{"subscribe without CreateTime", strings.Replace(event("subscribe"), "<CreateTime>1348831860</CreateTime>", "", 1), nil},
		{"message without MsgId", strings.Replace(wire("text", `<Content>x</Content>`), msgID, "</xml>", 1), nil},
		{"message without openid", strings.Replace(wire("text", `<Content>x</Content>`), "<FromUserName><![CDATA[oia2TjjewbmiOUlr6X-1crbLOvLw]]></FromUserName>", "", 1), nil},
		{"compatible mode: plain elements read", strings.Replace(wire("text", `<Content>x</Content>`), "</xml>", "<Encrypt>AAAA</Encrypt></xml>", 1), ptr(msg("x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := plainIn.Parse([]byte(tc.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.want == nil {
				if len(evs) != 0 {
					t.Fatalf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d events, want one", len(evs))
			}
			got := evs[0]
			native, ok := got.Native.(*wechat.Message)
			if !ok || native.OpenID != got.From.UserID || native.ToUserName != "gh_7f083739789a" || native.CreateTime != 1348831860 {
				t.Fatalf("native %+v", got.Native)
			}
			got.Native = nil
			if !reflect.DeepEqual(got, *tc.want) {
				t.Fatalf("event\n %+v\nwant\n %+v", got, *tc.want)
			}
		})
	}
}

func ptr(ev channel.Event) *channel.Event { return &ev }

func TestParseMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                    "",
		"JSON":                     `{"MsgType":"text"}`,
		"not closed":               `<xml><MsgType>text</MsgType>`,
		"another root":             `<root><MsgType>text</MsgType></root>`,
		"no MsgType":               `<xml><FromUserName>o</FromUserName><MsgId>1</MsgId></xml>`,
		"MsgId not an integer":     strings.Replace(wire("text", ""), "9223372036854775807", "12a", 1),
		"MsgId negative":           strings.Replace(wire("text", ""), "9223372036854775807", "-1", 1),
		"CreateTime not a number":  strings.Replace(wire("text", ""), "1348831860", "yesterday", 1),
		"over MaxBody":             wire("text", "<Content>"+strings.Repeat("x", wechat.MaxBody)+"</Content>"),
		"encrypted, no key":        `<xml><ToUserName>gh</ToUserName><Encrypt>AAAA</Encrypt></xml>`,
		"invalid UTF-8":            wire("text", "<Content>\xff</Content>"),
		"GBK declared":             `<?xml version="1.0" encoding="GBK"?>` + wire("text", ""),
		"undefined entity":         wire("text", "<Content>&secret;</Content>"),
		"doctype with an entity":   `<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + wire("text", "<Content>&e;</Content>"),
		"safe mode, plain body":    "safe:" + wire("text", "<Content>x</Content>"),
		"safe mode, not decrypted": "safe:" + `<xml><Encrypt>AAAA</Encrypt></xml>`,
	} {
		t.Run(name, func(t *testing.T) {
			in := plainIn
			if b, ok := strings.CutPrefix(body, "safe:"); ok {
				in, body = safeIn, b
			}
			evs, err := in.Parse([]byte(body))
			if !errors.Is(err, channel.ErrMalformed) || evs != nil {
				t.Fatalf("Parse: %d events, %v; want ErrMalformed", len(evs), err)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "passwd") {
				t.Fatalf("error %q quotes the body", err)
			}
		})
	}
}

func TestParseFromFake(t *testing.T) {
	at := time.Unix(1_767_225_600, 0)
	img := wechatfake.ImageMessage(account, openID, 42, "MEDIA_abc", at)
	evs, err := plainIn.Parse(img)
	if err != nil || len(evs) != 1 || evs[0].DedupeKey != "42" || len(evs[0].Attachments) != 1 || evs[0].Attachments[0].MediaID != "MEDIA_abc" ||
		evs[0].Attachments[0].URL != "" || !evs[0].At.Equal(at) {
		t.Fatalf("image: %+v %v", evs, err)
	}
	tricky := `CDATA end ]]> & <xml> inside`
	if evs, err := plainIn.Parse(wechatfake.TextMessage(account, openID, 43, tricky, at)); err != nil || len(evs) != 1 || evs[0].Text != tricky {
		t.Fatalf("text with ]]>: %+v %v", evs, err)
	}
	if evs, err := plainIn.Parse(wechatfake.Event(openID, "subscribe", at)); err != nil || len(evs) != 1 || evs[0].Kind != channel.KindSubscribed {
		t.Fatalf("subscribe: %+v %v", evs, err)
	}
	// The same body gives the same events; safe mode decrypts the same.
	req := signed(t, wechatfake.TextMessage(account, openID, 44, "again", at), urlToken, aesKey)
	a, err1 := safeIn.Parse(req.Body)
	b, err2 := safeIn.Parse(req.Body)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) || len(a) != 1 || a[0].DedupeKey != "44" {
		t.Fatalf("safe mode twice: %+v %v %v", a, err1, err2)
	}
}

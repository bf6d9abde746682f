package cfntemplate

import (
	"slices"
	"sort"
	"testing"
)

// TestFixedEgress_OffByDefaultAndCoversEveryWeChatCaller: the fixed-egress
// network (VPC, subnets, NAT gateway, Elastic IP...) exists only under the
// FixedEgress condition, which is off by default; every function that is
// given WeChat's API URL (and so may ask WeChat for a token) runs in it when
// it is on, and no other; the IP to whitelist is an output then.
func TestFixedEgress_OffByDefaultAndCoversEveryWeChatCaller(t *testing.T) {
	tpl := transform(t, repoTemplate(t))
	if p := asMap(asMap(tpl["Parameters"])["WeChatFixedEgress"]); p["Default"] != "false" {
		t.Errorf("WeChatFixedEgress defaults to %v", p["Default"])
	}
	ec2 := 0
	for id, r := range asMap(tpl["Resources"]) {
		typ, _ := asMap(r)["Type"].(string)
		if len(typ) > 10 && typ[:10] == "AWS::EC2::" {
			ec2++
			if asMap(r)["Condition"] != "FixedEgress" {
				t.Errorf("%s (%s) is created without the FixedEgress condition", id, typ)
			}
		}
	}
	if ec2 < 10 {
		t.Errorf("%d EC2 resources: the egress network is incomplete", ec2)
	}
	var callers, inVPC []string
	for id, fn := range functionsOf(tpl) {
		vars := asMap(asMap(fn["Environment"])["Variables"])
		if _, ok := vars["WECHAT_API_URL"]; ok {
			callers = append(callers, id)
		}
		if v := asMap(fn["VpcConfig"]); v != nil {
			cond, _ := v["Fn::If"].([]any)
			if len(cond) != 3 || cond[0] != "FixedEgress" || asMap(cond[2])["Ref"] != "AWS::NoValue" {
				t.Errorf("%s's VpcConfig is not conditional on FixedEgress: %v", id, v)
			}
			inVPC = append(inVPC, id)
		}
	}
	sort.Strings(callers)
	sort.Strings(inVPC)
	if len(callers) == 0 || !slices.Equal(callers, inVPC) {
		t.Errorf("functions calling WeChat %v, in the egress VPC %v", callers, inVPC)
	}
	if o := asMap(asMap(tpl["Outputs"])["FixedEgressIp"]); o["Condition"] != "FixedEgress" {
		t.Errorf("FixedEgressIp output %v", o)
	}
}

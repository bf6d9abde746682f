package pusher

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

func TestEndpoints_OnePusherPerRequestAPI(t *testing.T) {
	var made []string
	e := newEndpoints(func(ep string) Client {
		made = append(made, ep)
		return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{})
	}, "")
	a := e.For("abc.execute-api.eu-west-1.amazonaws.com", "dev")
	if again := e.For("abc.execute-api.eu-west-1.amazonaws.com", "dev"); again != a {
		t.Fatal("the same API got a second pusher")
	}
	if other := e.For("abc.execute-api.eu-west-1.amazonaws.com", "prod"); other == a {
		t.Fatal("another stage shared the pusher")
	}
	want := []string{"https://abc.execute-api.eu-west-1.amazonaws.com/dev", "https://abc.execute-api.eu-west-1.amazonaws.com/prod"}
	if len(made) != 2 || made[0] != want[0] || made[1] != want[1] {
		t.Fatalf("clients for %v, want %v", made, want)
	}
}

func TestEndpoints_FixedEndpointServesEveryRequest(t *testing.T) {
	e := NewEndpoints(aws.Config{Region: "eu-west-1"}, "http://localhost:3001/local")
	p := e.For("abc.execute-api.eu-west-1.amazonaws.com", "dev")
	if e.For("other.example", "prod") != p {
		t.Fatal("a fixed endpoint made a second pusher")
	}
	c, ok := p.c.(*apigatewaymanagementapi.Client)
	if !ok || aws.ToString(c.Options().BaseEndpoint) != "http://localhost:3001/local" {
		t.Fatalf("client endpoint %v", c.Options().BaseEndpoint)
	}
}

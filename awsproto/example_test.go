package awsproto_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coffer-registry/coffer/awsproto"
)

// An IAM API handler is decode → domain → encode; awsproto does the decoding and encoding.
func ExampleHandle() {
	type getUserInput struct {
		UserName string `aws:"UserName,required"`
	}
	type user struct {
		UserName string
		Path     string
	}
	type getUserOutput struct {
		User user
	}
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{})
	awsproto.Handle(e, awsproto.IAM, "GetUser", func(ctx context.Context, in *getUserInput) (*getUserOutput, error) {
		return &getUserOutput{User: user{UserName: in.UserName, Path: "/"}}, nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, form := range []string{"Action=GetUser&Version=2010-05-08&UserName=alice", "Action=GetUser&Version=2010-05-08"} {
		resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Amzn-Requestid")
		fmt.Println(resp.StatusCode, strings.ReplaceAll(string(body), id, "<id>"))
	}
	// Output:
	// 200 <?xml version="1.0" encoding="UTF-8"?>
	// <GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User><UserName>alice</UserName><Path>/</Path></User></GetUserResult><ResponseMetadata><RequestId><id></RequestId></ResponseMetadata></GetUserResponse>
	// 400 <?xml version="1.0" encoding="UTF-8"?>
	// <ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null</Message></Error><RequestId><id></RequestId></ErrorResponse>
}

package iamapi_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iamapi"
)

// Every registered operation is one of the IAM API's (a method of the SDK's client), so a
// misspelt name cannot hide; the list is printed for the closing note.
func TestOperationsAreIAMOperations(t *testing.T) {
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{})
	iamapi.Register(e, iamapi.Deps{})
	client := reflect.TypeFor[*sdk.Client]()
	var names []string
	for _, action := range e.Operations() {
		name, ok := strings.CutPrefix(action, "iam:")
		if !ok {
			t.Errorf("%s is not an IAM action", action)
			continue
		}
		if _, ok := client.MethodByName(name); !ok {
			t.Errorf("%s is not an operation of the IAM API", name)
		}
		names = append(names, name)
	}
	if len(names) < 80 {
		t.Errorf("only %d operations registered", len(names))
	}
	sort.Strings(names)
	t.Logf("%d IAM operations: %s", len(names), strings.Join(names, " "))
}

package auth_test

import (
	"context"
	"testing"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/iam"
)

// A caller slot reads as the caller of the context it was added to until it is set, then as
// the caller it was set to, once; a caller added on top of the slot hides it.
func TestCallerSlot(t *testing.T) {
	alice := auth.NewCaller(auth.RegistryToken, &iam.Principal{Type: iam.PrincipalUser, AccountID: "111122223333",
		ARN: "arn:aws:iam::111122223333:user/alice"}, 1)
	bob := auth.NewCaller(auth.RegistryToken, &iam.Principal{Type: iam.PrincipalUser, AccountID: "111122223333",
		ARN: "arn:aws:iam::111122223333:user/bob"}, 1)

	var empty auth.CallerSlot
	ctx := auth.WithCallerSlot(context.Background(), &empty)
	if c := auth.CallerFrom(ctx); c != nil {
		t.Fatalf("empty slot on nothing: %v", c)
	}
	if auth.CallerSlotFrom(ctx) != &empty {
		t.Fatal("CallerSlotFrom does not find the slot")
	}
	if auth.CallerSlotFrom(context.Background()) != nil {
		t.Fatal("a slot in a context without one")
	}

	var slot auth.CallerSlot
	ctx = auth.WithCallerSlot(auth.WithCaller(context.Background(), alice), &slot)
	if c := auth.CallerFrom(ctx); c != alice {
		t.Fatalf("empty slot: %v, want the caller beneath it", c)
	}
	if slot.Set(nil) || slot.Caller() != nil {
		t.Fatal("a nil caller set the slot")
	}
	if !slot.Set(bob) {
		t.Fatal("Set on an empty slot failed")
	}
	if c := auth.CallerFrom(ctx); c != bob {
		t.Fatalf("set slot: %v, want bob", c)
	}
	if slot.Set(alice) || slot.Caller() != bob || auth.CallerFrom(ctx) != bob {
		t.Fatal("a set slot changed its caller")
	}

	over := auth.WithCaller(ctx, alice)
	if c := auth.CallerFrom(over); c != alice {
		t.Fatalf("caller over a slot: %v, want alice", c)
	}
	if auth.CallerSlotFrom(over) != nil {
		t.Fatal("CallerSlotFrom found a slot hidden by a caller")
	}
}

package registryauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/coffer-registry/coffer/iam"
)

const (
	readOnlyARN      = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	powerUserARN     = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
	taskExecutionARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
)

// client is go-containerregistry (crane's library) logged in with a token.
type client struct {
	w     *world
	token string
}

func (w *world) as(token string) client { return client{w: w, token: token} }

func (c client) options() []remote.Option {
	opts := []remote.Option{remote.WithTransport(c.w.srv.Client().Transport)}
	if c.token != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: "AWS", Password: c.token}))
	}
	return opts
}

func (c client) ref(repo string) name.Reference {
	c.w.t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(c.w.srv.URL, "http://"), "https://")
	r, err := name.ParseReference(host+"/"+repo, name.Insecure)
	if err != nil {
		c.w.t.Fatal(err)
	}
	return r
}

func (c client) push(repo string) (v1.Image, error) {
	c.w.t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		c.w.t.Fatal(err)
	}
	return img, remote.Write(c.ref(repo), img, c.options()...)
}

func (c client) pull(repo string) error {
	img, err := remote.Image(c.ref(repo), c.options()...)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		rc.Close()
	}
	_, err = img.ConfigFile()
	return err
}

func (c client) list(repo string) ([]string, error) {
	return remote.List(c.ref(repo).Context(), c.options()...)
}

func (c client) catalog() []string {
	c.w.t.Helper()
	r := c.w.do(c.token, "GET", "/v2/_catalog", nil)
	var cat struct{ Repositories []string }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &cat) != nil {
		c.w.t.Fatalf("catalog: %s", r)
	}
	return cat.Repositories
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantDenied checks that a client operation failed with the registry's DENIED error and,
// when given, a part of AWS's sentence.
func wantDenied(t *testing.T, what string, err error, sentence string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: allowed, want denied", what)
	}
	if strings.Contains(err.Error(), "HEAD ") && strings.Contains(err.Error(), "403 Forbidden") {
		return // a push is refused at its first blob HEAD, whose answer has no body
	}
	if !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), sentence) {
		t.Fatalf("%s: %v, want DENIED with %q", what, err, sentence)
	}
}

// TestSeedScenarios: the workflows of the seeds, driven with go-containerregistry.
func TestSeedScenarios(t *testing.T) {
	w := newWorld(t, false)
	A := w.acctA
	repo := func(n string) string { return A + "/" + n }
	for _, n := range []string{"my-repo", "other-repo", "team-a/api", "team-b/api", "dev/app", "staging/app", "prod/app"} {
		w.repo(A, n)
	}
	admin := w.as(w.user(A, "admin", []string{allow("ecr:*")}))
	_, err := admin.push(repo("other-repo"))
	wantOK(t, "admin push", err)

	t.Run("user allowed only repository/my-repo", func(t *testing.T) {
		myRepoARN := "arn:aws:ecr:" + region + ":" + A + ":repository/my-repo"
		u := w.as(w.user(A, "dev1", []string{allow("ecr:*", myRepoARN), allow("ecr:GetAuthorizationToken")}))
		_, err := u.push(repo("my-repo"))
		wantOK(t, "push my-repo", err)
		wantOK(t, "pull my-repo", u.pull(repo("my-repo")))
		tags, err := u.list(repo("my-repo"))
		wantOK(t, "list my-repo", err)
		if len(tags) != 1 {
			t.Fatalf("tags %v", tags)
		}
		if cat := u.catalog(); !slices.Equal(cat, []string{repo("my-repo")}) {
			t.Fatalf("catalog %v", cat)
		}
		_, err = u.push(repo("other-repo"))
		wantDenied(t, "push other-repo", err, "is not authorized to perform: ecr:")
		wantDenied(t, "pull other-repo", u.pull(repo("other-repo")),
			"ecr:BatchGetImage on resource: arn:aws:ecr:"+region+":"+A+":repository/other-repo because no identity-based policy allows")
		_, err = u.list(repo("other-repo"))
		wantDenied(t, "list other-repo", err, "ecr:ListImages")
	})

	t.Run("ReadOnly managed policy pulls and does not push", func(t *testing.T) {
		u := w.as(w.user(A, "reader", nil, readOnlyARN))
		wantOK(t, "pull", u.pull(repo("other-repo")))
		_, err := u.push(repo("other-repo"))
		wantDenied(t, "push", err, "is not authorized to perform: ecr:")
		if cat := u.catalog(); len(cat) != 7 {
			t.Fatalf("ReadOnly may describe every repository: %v", cat)
		}
	})

	t.Run("no policy is denied", func(t *testing.T) {
		u := w.as(w.user(A, "nobody", nil))
		wantDenied(t, "pull", u.pull(repo("other-repo")), "because no identity-based policy allows the ecr:BatchGetImage action")
		_, err := u.push(repo("my-repo"))
		wantDenied(t, "push", err, "because no identity-based policy allows")
		if cat := u.catalog(); len(cat) != 0 {
			t.Fatalf("catalog %v", cat)
		}
	})

	t.Run("team separation", func(t *testing.T) {
		team := func(name string) string {
			return allow("ecr:*", "arn:aws:ecr:"+region+":"+A+":repository/"+name+"/*")
		}
		a := w.as(w.user(A, "alice-team-a", []string{team("team-a")}))
		b := w.as(w.user(A, "bob-team-b", []string{team("team-b")}))
		_, err := a.push(repo("team-a/api"))
		wantOK(t, "team a pushes team-a", err)
		_, err = b.push(repo("team-b/api"))
		wantOK(t, "team b pushes team-b", err)
		_, err = a.push(repo("team-b/api"))
		wantDenied(t, "team a pushes team-b", err, "team-b/api")
		wantDenied(t, "team b pulls team-a", b.pull(repo("team-a/api")), "team-a/api")
	})

	t.Run("environment separation", func(t *testing.T) {
		envRepo := func(env string) string { return "arn:aws:ecr:" + region + ":" + A + ":repository/" + env + "/*" }
		ci := w.as(w.user(A, "ci", []string{allow("ecr:*", envRepo("dev"), envRepo("staging"))}))
		release := w.as(w.user(A, "release", []string{allow("ecr:*", envRepo("prod")),
			allow("ecr:BatchGetImage,ecr:GetDownloadUrlForLayer", envRepo("staging"))}))
		_, err := ci.push(repo("dev/app"))
		wantOK(t, "ci pushes dev", err)
		_, err = ci.push(repo("staging/app"))
		wantOK(t, "ci pushes staging", err)
		_, err = ci.push(repo("prod/app"))
		wantDenied(t, "ci pushes prod", err, "prod/app")
		wantOK(t, "release pulls staging", release.pull(repo("staging/app")))
		_, err = release.push(repo("prod/app"))
		wantOK(t, "release pushes prod", err)
		_, err = release.push(repo("staging/app"))
		wantDenied(t, "release pushes staging", err, "staging/app")
		wantDenied(t, "release pulls dev", release.pull(repo("dev/app")), "dev/app")
	})

	t.Run("explicit deny in the repository policy beats any allow", func(t *testing.T) {
		u := w.as(w.user(A, "poweruser", []string{allow("ecr:*")}, powerUserARN))
		wantOK(t, "pull before the deny", u.pull(repo("other-repo")))
		w.facts.setPolicy(A, "other-repo", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":"*","Action":"ecr:*"},
			{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::`+A+`:user/poweruser"},"Action":["ecr:BatchGetImage","ecr:PutImage"]}]}`)
		wantDenied(t, "pull after the deny", u.pull(repo("other-repo")), "with an explicit deny in a resource-based policy")
		wantOK(t, "others still pull", admin.pull(repo("other-repo")))
		w.facts.setPolicy(A, "other-repo", "")
		wantOK(t, "pull after the policy is removed", u.pull(repo("other-repo")))
	})

	t.Run("anonymous pull only where a repository policy grants it", func(t *testing.T) {
		anon := w.as("")
		err := anon.pull(repo("other-repo"))
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Fatalf("anonymous pull without a grant: %v", err)
		}
		w.facts.setPolicy(A, "other-repo", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`)
		wantOK(t, "anonymous pull with a grant", anon.pull(repo("other-repo")))
		_, err = anon.push(repo("other-repo"))
		if err == nil {
			t.Fatal("anonymous push allowed")
		}
		w.facts.setPolicy(A, "other-repo", "")
	})

	t.Run("resource tags in conditions", func(t *testing.T) {
		u := w.as(w.user(A, "tagged", []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*",
			"Condition":{"StringEquals":{"ecr:ResourceTag/team":"a","aws:ResourceTag/env":"dev"}}}]}`}))
		wantDenied(t, "untagged", u.pull(repo("other-repo")), "no identity-based policy allows")
		w.facts.setTags(A, "other-repo", map[string]string{"team": "a", "env": "dev"})
		wantOK(t, "tagged", u.pull(repo("other-repo")))
		// A changed tag value is seen by the next request (the tag keys are cached per repository).
		w.facts.setTags(A, "other-repo", map[string]string{"team": "a", "env": "prod"})
		wantDenied(t, "retagged env=prod", u.pull(repo("other-repo")), "no identity-based policy allows")
		w.facts.setTags(A, "other-repo", map[string]string{"team": "a", "env": "dev"})
		wantOK(t, "tagged again", u.pull(repo("other-repo")))
		w.facts.setTags(A, "other-repo", nil)
	})

	t.Run("aws:SourceIp", func(t *testing.T) {
		ipPolicy := func(cidr string) string {
			return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*",
				"Condition":{"IpAddress":{"aws:SourceIp":"` + cidr + `"}}}]}`
		}
		near := w.as(w.user(A, "loopback-only", []string{ipPolicy("127.0.0.0/8")}))
		far := w.as(w.user(A, "office-only", []string{ipPolicy("10.0.0.0/8")}))
		wantOK(t, "from 127.0.0.1, allowed 127/8", near.pull(repo("other-repo")))
		wantDenied(t, "from 127.0.0.1, allowed 10/8", far.pull(repo("other-repo")), "no identity-based policy allows")
	})

	t.Run("deleted user's token stops working", func(t *testing.T) {
		tok := w.user(A, "leaver", []string{allow("ecr:*")})
		wantOK(t, "before", w.as(tok).pull(repo("other-repo")))
		ctx := context.Background()
		keys, _ := w.iam.ListAccessKeys(ctx, A, "leaver")
		for _, k := range keys {
			w.iam.DeleteAccessKey(ctx, A, "leaver", k.ID)
		}
		w.iam.DeleteInlinePolicy(ctx, iam.EntityRef{Account: A, Kind: iam.KindUser, Name: "leaver"}, "leavera")
		if err := w.iam.DeleteUser(ctx, A, "leaver"); err != nil {
			t.Fatal(err)
		}
		err := w.as(tok).pull(repo("other-repo"))
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Fatalf("after deletion: %v", err)
		}
	})
}

// TestCrossAccountDeployRole: a role in account B with AmazonECSTaskExecutionRolePolicy
// pulls from account A only once A's repository policy grants it, and not when B's own
// policies do not allow it.
func TestCrossAccountDeployRole(t *testing.T) {
	w := newWorld(t, false)
	A, B := w.acctA, w.acctB
	ctx := context.Background()
	w.repo(A, "shared/app")
	admin := w.as(w.user(A, "admin", []string{allow("ecr:*")}))
	_, err := admin.push(A + "/shared/app")
	wantOK(t, "push", err)

	// B's deployer assumes B's task execution role.
	if _, err := w.iam.CreateUser(ctx, iamCreateUser(B, "deployer")); err != nil {
		t.Fatal(err)
	}
	deployerKey, err := w.iam.CreateAccessKey(ctx, B, "deployer")
	if err != nil {
		t.Fatal(err)
	}
	deployerCred, _ := w.iam.LookupCredential(ctx, deployerKey.ID)
	role := createRole(t, w, B, "ecsTaskExecutionRole")
	ref := iam.EntityRef{Account: B, Kind: iam.KindRole, Name: "ecsTaskExecutionRole"}
	if err := w.iam.AttachPolicy(ctx, ref, taskExecutionARN); err != nil {
		t.Fatal(err)
	}
	sess, err := w.iam.AssumeRole(ctx, iam.AssumeRoleInput{RoleARN: role, SessionName: "task-1", Caller: deployerCred.Principal})
	if err != nil {
		t.Fatal(err)
	}
	deploy := w.as(w.tokenFor(sess.AccessKeyID))
	sessionARN := "arn:aws:sts::" + B + ":assumed-role/ecsTaskExecutionRole/task-1"

	wantDenied(t, "before A grants", deploy.pull(A+"/shared/app"),
		"User: "+sessionARN+" is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:"+region+":"+A+
			":repository/shared/app because no resource-based policy allows the ecr:BatchGetImage action")

	w.facts.setPolicy(A, "shared/app", `{"Version":"2012-10-17","Statement":[{"Sid":"DeployFromB","Effect":"Allow",
		"Principal":{"AWS":"`+role+`"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`)
	wantOK(t, "after A grants", deploy.pull(A+"/shared/app"))
	_, err = deploy.push(A + "/shared/app")
	wantDenied(t, "push is not granted", err, "is not authorized to perform: ecr:")

	// Without the managed policy B's role may not pull, whatever A grants.
	if err := w.iam.DetachPolicy(ctx, ref, taskExecutionARN); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "B's policies no longer allow", deploy.pull(A+"/shared/app"), "because no identity-based policy allows")
}

// TestSecureTransportCondition: a repository policy denying requests not made over TLS.
func TestSecureTransportCondition(t *testing.T) {
	const tlsOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*",
		"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	for _, secure := range []bool{false, true} {
		w := newWorld(t, secure)
		A := w.acctA
		w.repo(A, "app")
		u := w.as(w.user(A, "admin", []string{allow("ecr:*")}))
		_, err := u.push(A + "/app")
		wantOK(t, "push", err)
		w.facts.setPolicy(A, "app", tlsOnly)
		if secure {
			wantOK(t, "pull over TLS", u.pull(A+"/app"))
		} else {
			wantDenied(t, "pull over plain HTTP", u.pull(A+"/app"), "with an explicit deny in a resource-based policy")
		}
	}
}

// TestRegistryPolicy: ECR's registry policy (V2 scope) applies to every registry call beside
// the repository policy: it can grant another account pull on every repository, and its
// explicit Deny wins over any Allow.
func TestRegistryPolicy(t *testing.T) {
	w := newWorld(t, false)
	A, B := w.acctA, w.acctB
	ctx := context.Background()
	w.repo(A, "shared/app")
	admin := w.as(w.user(A, "admin", []string{allow("ecr:*")}))
	_, err := admin.push(A + "/shared/app")
	wantOK(t, "push", err)
	puller := w.as(w.user(B, "puller", []string{allow("ecr:*")}))
	wantDenied(t, "before the registry policy", puller.pull(A+"/shared/app"), "because no resource-based policy allows")

	grant := `{"Version":"2012-10-17","Statement":[{"Sid":"PullFromB","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + B + `:root"},
		"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"arn:aws:ecr:` + region + `:` + A + `:repository/*"}]}`
	if err := w.meta.PutRegistryPolicy(ctx, A, grant); err != nil {
		t.Fatal(err)
	}
	wantOK(t, "granted by the registry policy", puller.pull(A+"/shared/app"))

	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"NoPull","Effect":"Deny","Principal":"*",
		"Action":"ecr:BatchGetImage","Resource":"arn:aws:ecr:` + region + `:` + A + `:repository/shared/*"}]}`
	if err := w.meta.PutRegistryPolicy(ctx, A, deny); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "registry policy deny over an identity allow", admin.pull(A+"/shared/app"),
		"with an explicit deny in a resource-based policy")
	wantDenied(t, "registry policy deny over the grant", puller.pull(A+"/shared/app"),
		"with an explicit deny in a resource-based policy")
	if _, err := w.meta.DeleteRegistryPolicy(ctx, A); err != nil {
		t.Fatal(err)
	}
	wantOK(t, "after the registry policy is gone", admin.pull(A+"/shared/app"))
}

package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// client runs one client program with a private home directory, so that logins and settings of
// the machine do not leak in, and a working directory.
type client struct {
	t    *testing.T
	bin  string
	home string
	dir  string
	env  []string // extra environment, KEY=VALUE
}

func newClient(t *testing.T, name string) *client {
	bin := tool(t, name)
	home := t.TempDir()
	return &client{t: t, bin: bin, home: home, dir: home}
}

// run runs the client and returns its stdout; a failure fails the test with the output.
func (c *client) run(args ...string) string {
	c.t.Helper()
	out, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", filepath.Base(c.bin), strings.Join(args, " "), err, out)
	}
	return out
}

// try runs the client and returns stdout, or stdout and stderr with the error.
func (c *client) try(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(),
		"HOME="+c.home,
		"DOCKER_CONFIG="+filepath.Join(c.home, ".docker"),
		"REGCTL_CONFIG="+filepath.Join(c.home, ".regctl", "config.json"),
		"XDG_RUNTIME_DIR="+c.home,
		"XDG_CONFIG_HOME="+filepath.Join(c.home, ".config"),
		"REGISTRY_AUTH_FILE="+filepath.Join(c.home, "auth.json"),
	)
	cmd.Env = append(cmd.Env, c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// file writes a file in the client's working directory and returns its name.
func (c *client) file(name string, content []byte) string {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), content, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return name
}

func sha256Digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// checkPulledLayout checks that the OCI layout at dir holds manifest digest want and every
// layer blob of the pushed image byte for byte.
func checkPulledLayout(t *testing.T, dir, tag, want string, layers map[string][]byte) {
	t.Helper()
	if got := layoutManifestDigest(t, dir, tag); got != want {
		t.Errorf("pulled manifest %s, pushed %s", got, want)
	}
	for d, content := range layers {
		got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Errorf("pulled layout lacks layer %s: %v", d, err)
			continue
		}
		if !bytes.Equal(got, content) {
			t.Errorf("layer %s differs after the round trip", d)
		}
	}
}

func TestCrane(t *testing.T) {
	crane := newClient(t, "crane")
	srv := startCoffer(t, "")

	img := randomImage(t, 1, 2, 3000)
	want := digestOf(t, img)
	src := filepath.Join(crane.dir, "src")
	writeLayout(t, src, img, "v1")

	a, b := srv.Ref("e2e/crane-a", ":v1"), srv.Ref("e2e/crane-b", ":v1")
	crane.run("push", "--insecure", src, a)
	if got := strings.TrimSpace(crane.run("digest", "--insecure", a)); got != want {
		t.Fatalf("crane digest after push = %s, want %s", got, want)
	}
	crane.run("copy", "--insecure", a, b)
	if got := strings.TrimSpace(crane.run("digest", "--insecure", b)); got != want {
		t.Fatalf("crane digest after copy = %s, want %s", got, want)
	}
	if tags := crane.run("ls", "--insecure", srv.Ref("e2e/crane-b", "")); strings.TrimSpace(tags) != "v1" {
		t.Errorf("crane ls = %q, want v1", tags)
	}
	out := filepath.Join(crane.dir, "out")
	crane.run("pull", "--insecure", "--format", "oci", b, out)
	checkPulledLayout(t, out, "", want, layerBlobs(t, img))

	// crane append writes Docker v2 schema 2 media types: those must be accepted too.
	layer := crane.file("layer.tar", tarLayer("hello.txt", []byte("hello from crane append\n")))
	docker := srv.Ref("e2e/crane-docker", ":v1")
	crane.run("append", "--insecure", "-f", layer, "-t", docker)
	manifest := crane.run("manifest", "--insecure", docker)
	if !strings.Contains(manifest, "application/vnd.docker.distribution.manifest.v2+json") {
		t.Errorf("crane append manifest is not Docker v2s2: %s", manifest)
	}
	if got := crane.run("export", "--insecure", docker, "-"); !strings.Contains(got, "hello from crane append") {
		t.Errorf("crane export does not hold the appended file")
	}
}

func TestRegctl(t *testing.T) {
	regctl := newClient(t, "regctl")
	srv := startCoffer(t, "")
	regctl.run("registry", "set", srv.Host, "--tls", "disabled")

	img := randomImage(t, 2, 2, 3000)
	want := digestOf(t, img)
	src := filepath.Join(regctl.dir, "src")
	writeLayout(t, src, img, "v1")

	a, b := srv.Ref("e2e/regctl-a", ":v1"), srv.Ref("e2e/regctl-b", ":v1")
	regctl.run("image", "copy", "ocidir://"+src+":v1", a)
	if got := strings.TrimSpace(regctl.run("image", "digest", a)); got != want {
		t.Fatalf("regctl image digest after push = %s, want %s", got, want)
	}
	regctl.run("image", "copy", a, b)
	if got := strings.TrimSpace(regctl.run("image", "digest", b)); got != want {
		t.Fatalf("regctl image digest after copy = %s, want %s", got, want)
	}
	if tags := regctl.run("tag", "ls", srv.Ref("e2e/regctl-b", "")); strings.TrimSpace(tags) != "v1" {
		t.Errorf("regctl tag ls = %q, want v1", tags)
	}
	out := filepath.Join(regctl.dir, "out")
	regctl.run("image", "copy", b, "ocidir://"+out+":v1")
	checkPulledLayout(t, out, "v1", want, layerBlobs(t, img))

	// An artifact whose subject is the image: a referrer.
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"e2e"}`)
	regctl.file("sbom.json", sbom)
	regctl.run("artifact", "put", "--subject", a, "--artifact-type", "application/spdx+json",
		"--file", "sbom.json", "--file-media-type", "application/spdx+json")
	list := regctl.run("artifact", "list", a, "--format", "{{json .}}")
	if !strings.Contains(list, "application/spdx+json") {
		t.Fatalf("regctl artifact list does not show the referrer:\n%s", list)
	}
	got := regctl.run("artifact", "get", "--subject", a, "--filter-artifact-type", "application/spdx+json")
	if got != string(sbom) {
		t.Errorf("regctl artifact get = %q, want %q", got, sbom)
	}
	// Copying with --referrers carries the artifact along.
	c := srv.Ref("e2e/regctl-c", ":v1")
	regctl.run("image", "copy", "--referrers", a, c)
	if list := regctl.run("artifact", "list", c, "--format", "{{json .}}"); !strings.Contains(list, "application/spdx+json") {
		t.Errorf("after copy --referrers, regctl artifact list shows no referrer:\n%s", list)
	}
}

func TestOras(t *testing.T) {
	oras := newClient(t, "oras")
	srv := startCoffer(t, "")

	note := []byte("a note pushed by oras\n")
	sig := []byte("a signature, attached as a referrer\n")
	oras.file("note.txt", note)
	oras.file("sig.txt", sig)

	a, b := srv.Ref("e2e/oras-a", ":art"), srv.Ref("e2e/oras-b", ":art")
	oras.run("push", "--plain-http", "--artifact-type", "application/vnd.e2e.note", a, "note.txt:text/plain")
	digest := strings.TrimSpace(oras.run("resolve", "--plain-http", a))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("oras resolve = %q", digest)
	}
	oras.run("attach", "--plain-http", "--artifact-type", "application/vnd.e2e.signature", a, "sig.txt:text/plain")
	if got := oras.run("discover", "--plain-http", "--format", "json", a); !strings.Contains(got, "application/vnd.e2e.signature") {
		t.Fatalf("oras discover does not list the referrer:\n%s", got)
	}

	oras.run("copy", "--from-plain-http", "--to-plain-http", "-r", a, b)
	if got := strings.TrimSpace(oras.run("resolve", "--plain-http", b)); got != digest {
		t.Errorf("copied artifact digest = %s, want %s", got, digest)
	}
	if got := oras.run("discover", "--plain-http", "--format", "json", b); !strings.Contains(got, "application/vnd.e2e.signature") {
		t.Errorf("after copy -r, oras discover lists no referrer:\n%s", got)
	}
	if tags := oras.run("repo", "tags", "--plain-http", srv.Ref("e2e/oras-b", "")); strings.TrimSpace(tags) != "art" {
		t.Errorf("oras repo tags = %q, want art", tags)
	}

	out := filepath.Join(oras.dir, "out")
	oras.run("pull", "--plain-http", "-o", out, b)
	if got, err := os.ReadFile(filepath.Join(out, "note.txt")); err != nil || !bytes.Equal(got, note) {
		t.Errorf("pulled note.txt = %q, %v; want %q", got, err, note)
	}

	// oras also pushes an image's OCI layout.
	img := randomImage(t, 3, 1, 2000)
	src := filepath.Join(oras.dir, "src")
	writeLayout(t, src, img, "v1")
	ref := srv.Ref("e2e/oras-image", ":v1")
	oras.run("cp", "--to-plain-http", "--from-oci-layout", src+":v1", ref)
	if got := strings.TrimSpace(oras.run("resolve", "--plain-http", ref)); got != digestOf(t, img) {
		t.Errorf("image pushed by oras resolves to %s, want %s", got, digestOf(t, img))
	}
}

func TestSkopeo(t *testing.T) {
	skopeo := newClient(t, "skopeo")
	srv := startCoffer(t, "")

	img := randomImage(t, 4, 2, 3000)
	want := digestOf(t, img)
	src := filepath.Join(skopeo.dir, "src")
	writeLayout(t, src, img, "v1")

	a, b := srv.Ref("e2e/skopeo-a", ":v1"), srv.Ref("e2e/skopeo-b", ":v1")
	skopeo.run("--insecure-policy", "copy", "--preserve-digests", "--dest-tls-verify=false",
		"oci:"+src+":v1", "docker://"+a)
	if got := sha256Digest([]byte(skopeo.run("inspect", "--tls-verify=false", "--raw", "docker://"+a))); got != want {
		t.Fatalf("manifest after skopeo push has digest %s, want %s", got, want)
	}
	skopeo.run("--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+a, "docker://"+b)
	if got := sha256Digest([]byte(skopeo.run("inspect", "--tls-verify=false", "--raw", "docker://"+b))); got != want {
		t.Fatalf("manifest after skopeo copy has digest %s, want %s", got, want)
	}
	if tags := skopeo.run("list-tags", "--tls-verify=false", "docker://"+srv.Ref("e2e/skopeo-b", "")); !strings.Contains(tags, `"v1"`) {
		t.Errorf("skopeo list-tags = %s, want v1", tags)
	}
	out := filepath.Join(skopeo.dir, "out")
	skopeo.run("--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false", "docker://"+b, "oci:"+out+":v1")
	checkPulledLayout(t, out, "v1", want, layerBlobs(t, img))
}

package policy

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// naiveReadings is how Set prepared values before it checked strings cheaply first: every
// value parsed as a number, every date layout in turn, and as an IP address.
func naiveReadings(raw string) ctxValue {
	v := ctxValue{s: raw}
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		v.num, v.has = f, hasNum
	}
	if raw != "" {
		if isDigits(raw) {
			if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
				v.setDate(time.Unix(n, 0))
			}
		} else {
			s := raw
			if strings.ContainsAny(s, "tz") {
				s = strings.ToUpper(s)
			}
			for _, l := range dateLayouts {
				if t, err := time.Parse(l, s); err == nil {
					v.setDate(t)
					break
				}
			}
		}
	}
	if a, err := netip.ParseAddr(raw); err == nil {
		v.ip = a
	}
	return v
}

var readingSeeds = []string{
	"", "alice", "arn:aws:iam::111122223333:user/alice", "111122223333", "o-a1b2c3d4e5", "true", "FALSE",
	"10.1.2.3", "10.1.2", "10.1.2.3.4", "1.2.3.4%eth0", "::1", "fe80::1%eth0", "::ffff:192.0.2.7", "12:00", "cafe", "face::",
	"1e3", "-1.5E-3", "+.5", "5.", "0x1p-2", "0X1.8P+1", "0x_1p0", "1_000", "inf", "-Infinity", "NaN", "+nan", "1.2.3", "e5", "--1",
	"2025-06-01", "2025-06", "2025-06-01T12", "2025-06-01T12:00", "2025-06-01T12:00Z", "2025-06-01T12:00+05:00",
	"2025-06-01T12:00:00Z", "2025-06-01t12:00:00z", "2025-06-01T12:00:00.123456789Z", "2025-06-01T12:00:00+05:00",
	"2025-06-01T12:00:00.5+0530", "2025-06-01T12:00:00", "2025-06-01T12:00:00.25", "2025-13-01", "2025-06-01T25:00:00Z",
	"1717243200", "99999999999999999999", "2025-06-01 12:00:00", "20250601", "dGVzdA==",
}

func sameReadings(a, b ctxValue) bool {
	numEq := a.num == b.num || (math.IsNaN(a.num) && math.IsNaN(b.num))
	return a.s == b.s && a.has&^hasBin == b.has&^hasBin && numEq && a.sec == b.sec && a.nsec == b.nsec && a.ip == b.ip
}

// Set prepares the same readings of a string value as parsing it every way would.
func FuzzContextReadings(f *testing.F) {
	for _, s := range readingSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := newCtxValue("k", TypeString, raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveReadings(raw); !sameReadings(got, want) {
			t.Fatalf("%q: got %+v, want %+v", raw, got, want)
		}
	})
}

func TestContextTypedValues(t *testing.T) {
	c := NewContext()
	for _, tc := range []struct {
		typ ValueType
		raw string
		ok  bool
	}{
		{TypeIP, "10.1.2.3", true}, {TypeIP, "fe80::1%eth0", true}, {TypeIP, "10.1.2", false},
		{TypeNumeric, "0x1p-2", true}, {TypeNumeric, "12:00", false},
		{TypeDate, "2025-06-01T12:00:00Z", true}, {TypeDate, "1717243200", true}, {TypeDate, "June", false},
		{TypeBool, "True", true}, {TypeBool, "yes", false},
		{TypeBinary, "dGVzdA==", true}, {TypeBinary, "not base64", false},
	} {
		err := c.Set("k", tc.typ, tc.raw)
		if (err == nil) != tc.ok {
			t.Errorf("%d %q: %v", tc.typ, tc.raw, err)
			continue
		}
		if !tc.ok {
			continue
		}
		got, _ := newCtxValue("k", tc.typ, tc.raw)
		want := naiveReadings(tc.raw)
		if !sameReadings(got, want) {
			t.Errorf("%d %q: got %+v, want %+v", tc.typ, tc.raw, got, want)
		}
	}
	// A rejected value leaves the context as it was.
	c = NewContext().MustSet("aws:SourceIp", TypeIPList, "10.0.0.1", "10.0.0.2")
	if err := c.Set("aws:SourceIp", TypeIPList, "10.0.0.3", "nope"); err == nil {
		t.Fatal("a malformed IP was accepted")
	}
	if vals, _ := c.Lookup("AWS:SOURCEIP"); strings.Join(vals, ",") != "10.0.0.1,10.0.0.2" {
		t.Fatalf("after a rejected Set: %v", vals)
	}
}

// Keys are case-insensitive, a second Set replaces, an empty list is present, and large
// contexts (looked up through their index) answer like small ones.
func TestContextKeys(t *testing.T) {
	for _, n := range []int{3, indexFrom, indexFrom + 1, 200} {
		c := NewContext()
		for i := range n {
			c.MustSet(fmt.Sprintf("aws:PrincipalTag/Key%d", i), TypeString, fmt.Sprint("v", i))
		}
		c.MustSet("aws:PrincipalTag/KEY1", TypeString, "replaced")
		c.MustSet("aws:TagKeys", TypeStringList)
		c.MustSet("aws:Straße", TypeString, "non-ascii")
		for i := range n {
			want := fmt.Sprint("v", i)
			if i == 1 {
				want = "replaced"
			}
			if vals, ok := c.Lookup(fmt.Sprintf("AWS:principaltag/key%d", i)); !ok || len(vals) != 1 || vals[0] != want {
				t.Fatalf("%d keys: key %d: %v %v", n, i, vals, ok)
			}
		}
		if len(c.entries) != n+2 {
			t.Fatalf("%d keys: %d entries", n, len(c.entries))
		}
		if vals, ok := c.Lookup("aws:tagkeys"); !ok || len(vals) != 0 {
			t.Fatalf("%d keys: empty list: %v %v", n, vals, ok)
		}
		if vals, ok := c.Lookup("AWS:STRASSE"); ok {
			t.Fatalf("%d keys: ß is not ss: %v", n, vals)
		}
		if vals, ok := c.Lookup("aws:STRAßE"); !ok || vals[0] != "non-ascii" {
			t.Fatalf("%d keys: non-ASCII key: %v %v", n, vals, ok)
		}
		if _, ok := c.Lookup("aws:PrincipalTag/Key"); ok {
			t.Fatalf("%d keys: a missing key was found", n)
		}
	}
}

// A layer sees its base's keys and hides those it sets itself, without changing the base;
// Reset empties the layer, not the base.
func TestContextLayers(t *testing.T) {
	base := NewContext().MustSet("aws:username", TypeString, "alice").MustSet("aws:PrincipalTag/team", TypeString, "app")
	c := base.Layer()
	c.MustSet("AWS:USERNAME", TypeString, "bob").MustSet("aws:SourceIp", TypeIP, "10.0.0.1").MustSet("aws:TagKeys", TypeStringList)
	if v, _ := base.Lookup("aws:username"); v[0] != "alice" {
		t.Fatalf("the base changed: %v", v)
	}
	if _, ok := base.Lookup("aws:SourceIp"); ok {
		t.Fatal("the base gained a key")
	}
	if v, _ := c.Lookup("aws:username"); v[0] != "bob" {
		t.Fatalf("layer: %v", v)
	}
	if v, _ := c.Lookup("aws:PrincipalTag/team"); v[0] != "app" {
		t.Fatalf("layer lost a key of its base: %v", v)
	}
	// Policy variables and conditions read through the layers.
	if !condDecision(t, `{"StringEquals":{"aws:PrincipalTag/team":"app","aws:username":"bob"},"IpAddress":{"aws:SourceIp":"10.0.0.0/24"}}`, c) {
		t.Fatal("conditions on a layer")
	}
	if !condDecision(t, `{"StringEquals":{"aws:PrincipalTag/team":"${aws:username}pp"}}`, base.Layer().MustSet("aws:username", TypeString, "a")) {
		t.Fatal("a policy variable from a layer")
	}
	if !condDecision(t, `{"Null":{"aws:TagKeys":"true"}}`, c) {
		t.Fatal("an empty list in a layer")
	}
	top := c.Layer().MustSet("aws:username", TypeString, "carol")
	if v, _ := top.Lookup("aws:username"); v[0] != "carol" {
		t.Fatalf("layer on a layer: %v", v)
	}
	if v, _ := top.Lookup("aws:PrincipalTag/team"); v[0] != "app" {
		t.Fatalf("layer on a layer: %v", v)
	}
	c.Reset()
	if v, _ := c.Lookup("aws:username"); v[0] != "alice" {
		t.Fatalf("after Reset the base shows again: %v", v)
	}
	if _, ok := c.Lookup("aws:SourceIp"); ok {
		t.Fatal("Reset kept a key")
	}
	c.MustSet("aws:SourceIp", TypeIP, "10.0.0.2")
	if v, _ := c.Lookup("aws:SourceIp"); len(v) != 1 || v[0] != "10.0.0.2" {
		t.Fatalf("after Reset: %v", v)
	}
	// A big base (looked up through its index) under a layer.
	big := NewContext()
	for i := range 3 * indexFrom {
		big.MustSet(fmt.Sprint("aws:PrincipalTag/k", i), TypeString, fmt.Sprint(i))
	}
	l := big.Layer().MustSet("aws:PrincipalTag/K7", TypeString, "seven")
	if v, _ := l.Lookup("aws:principaltag/k7"); v[0] != "seven" {
		t.Fatalf("big base: %v", v)
	}
	if v, _ := l.Lookup("aws:principaltag/k70"); v[0] != "70" {
		t.Fatalf("big base: %v", v)
	}
}

// registryContext builds the request context of a registry request the way authz does:
// the caller's keys once, then the request's keys in a layer on them (the clock's two
// values are formatted once a second, not per request).
func registryContext(base *Context, clock [2]string, sourceIP string) *Context {
	return reuseRegistryContext(base.Layer(), clock, sourceIP)
}

// reuseRegistryContext sets a registry request's keys in c, as authz does in a layer it
// takes from a pool.
func reuseRegistryContext(c *Context, clock [2]string, sourceIP string) *Context {
	c.MustSet("aws:CurrentTime", TypeDate, clock[0])
	c.MustSet("aws:EpochTime", TypeNumeric, clock[1])
	c.MustSet("aws:SecureTransport", TypeBool, "true")
	c.MustSet("aws:SourceIp", TypeIP, sourceIP)
	c.MustSet("aws:UserAgent", TypeString, "containerd/2.1.0")
	c.MustSet("aws:RequestedRegion", TypeString, "us-east-1")
	c.MustSet("aws:ResourceAccount", TypeString, "111122223333")
	c.MustSet("aws:ResourceTag/stage", TypeString, "dev")
	c.MustSet("ecr:ResourceTag/stage", TypeString, "dev")
	return c
}

func clockOf(t time.Time) [2]string {
	return [2]string{t.UTC().Format(time.RFC3339), strconv.FormatInt(t.Unix(), 10)}
}

func callerContext() *Context {
	return NewContext().
		MustSet("aws:PrincipalArn", TypeString, "arn:aws:iam::111122223333:user/alice").
		MustSet("aws:PrincipalAccount", TypeString, "111122223333").
		MustSet("aws:PrincipalType", TypeString, "User").
		MustSet("aws:userid", TypeString, "AIDAEXAMPLEUSERID0001").
		MustSet("aws:PrincipalIsAWSService", TypeBool, "false").
		MustSet("aws:ViaAWSService", TypeBool, "false").
		MustSet("aws:username", TypeString, "alice").
		MustSet("aws:PrincipalTag/team", TypeString, "app").
		MustSet("aws:PrincipalTag/cost-center", TypeString, "4711").
		MustSet("aws:PrincipalTag/level", TypeString, "3").
		MustSet("aws:PrincipalOrgID", TypeString, "o-a1b2c3d4e5").
		MustSet("aws:PrincipalOrgPaths", TypeStringList, "o-a1b2c3d4e5/r-ab12/")
}

func TestRegistryContextAllocations(t *testing.T) {
	base := callerContext()
	now := clockOf(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	c := registryContext(base, now, "192.0.2.7")
	if n := len(c.entries) + len(c.base.entries); n != 21 {
		t.Fatalf("%d keys", n)
	}
	if !condDecision(t, `{"NumericLessThan":{"aws:PrincipalTag/level":"5"},"DateLessThan":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}`, c) {
		t.Fatal("a string tag read as a number, or the epoch read as a date")
	}
	// The layer is the only allocation; the keys themselves cost nothing.
	if n := testing.AllocsPerRun(100, func() { registryContext(base, now, "192.0.2.7") }); n > 1 {
		t.Fatalf("building a registry request context allocates %v times", n)
	}
}

// BenchmarkContext measures building a registry request's context (21 keys: 12 for the
// caller, 9 for the request) as a new layer on the caller's, in a reused layer, and from
// nothing. cpu-ns/op is
// the process's CPU time per context, steadier than wall time on a shared machine.
// Run: go test -run '^$' -bench Context -cpu 1 ./policy/
func BenchmarkContext(b *testing.B) {
	now := clockOf(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	b.Run("layer", func(b *testing.B) {
		base := callerContext()
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			registryContext(base, now, "192.0.2.7")
		}
		reportCPU(b, cpu0)
	})
	b.Run("reused", func(b *testing.B) {
		base := callerContext()
		c := base.Layer()
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			c.Reset()
			reuseRegistryContext(c, now, "192.0.2.7")
		}
		reportCPU(b, cpu0)
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			registryContext(callerContext(), now, "192.0.2.7")
		}
		reportCPU(b, cpu0)
	})
}

func reportCPU(b *testing.B, cpu0 int64) {
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

// scanKey folds exactly the ASCII letters, whatever their position in the word.
func TestScanKey(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		key := rapid.StringOfN(rapid.SampledFrom([]rune("aAzZ@[`{:/-09ß\u212a\x7f")), 0, 40, -1).Draw(rt, "key")
		hash, ascii, upper := scanKey(key)
		lower := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, key)
		if h, _, u := scanKey(lower); h != hash || u {
			rt.Fatalf("%q and %q hash apart", key, lower)
		}
		if ascii != isASCII(key) || upper != (lower != key) {
			rt.Fatalf("%q: ascii %v, upper %v", key, ascii, upper)
		}
		if len(key) > 0 {
			other := key[:len(key)-1] + "!"
			if other != key && strings.ToLower(other) != strings.ToLower(key) && foldHash(other) == hash {
				rt.Fatalf("%q and %q hash alike", key, other)
			}
		}
	})
}

// A context reused through Reset holds exactly what a new context would, whatever the
// earlier uses left in its storage.
func TestContextReuse(t *testing.T) {
	keys := []string{"aws:CurrentTime", "aws:SourceIp", "aws:TagKeys", "aws:PrincipalTag/n", "aws:username"}
	raws := []string{"10.0.0.1", "2025-06-01T12:00:00Z", "5", "dGVzdA==", "true", "alice", ""}
	types := []ValueType{TypeString, TypeStringList, TypeIP, TypeDate, TypeNumeric, TypeBinary, TypeBool, TypeBinaryList}
	rapid.Check(t, func(rt *rapid.T) {
		base := NewContext().MustSet("aws:username", TypeString, "base")
		reused := base.Layer()
		for range rapid.IntRange(1, 5).Draw(rt, "requests") {
			reused.Reset()
			fresh := base.Layer()
			for range rapid.IntRange(0, 8).Draw(rt, "keys") {
				key := rapid.SampledFrom(keys).Draw(rt, "key")
				typ := rapid.SampledFrom(types).Draw(rt, "typ")
				vals := rapid.SliceOfN(rapid.SampledFrom(raws), 0, 3).Draw(rt, "values")
				if !isListType(typ) && len(vals) != 1 {
					vals = []string{"5"}
				}
				errFresh, errReused := fresh.Set(key, typ, vals...), reused.Set(key, typ, vals...)
				if (errFresh == nil) != (errReused == nil) {
					rt.Fatalf("Set(%s, %d, %q): %v, reused: %v", key, typ, vals, errFresh, errReused)
				}
			}
			for _, key := range keys {
				lk := strings.ToLower(key)
				want, okWant := fresh.lookup(lk, key, foldHash(key))
				got, okGot := reused.lookup(lk, key, foldHash(key))
				if okWant != okGot || len(want) != len(got) {
					rt.Fatalf("%s: %v %v, reused: %v %v", key, want, okWant, got, okGot)
				}
				for i := range want {
					if !sameReadings(want[i], got[i]) || want[i].bin != got[i].bin || want[i].has != got[i].has {
						rt.Fatalf("%s[%d]: %+v, reused: %+v", key, i, want[i], got[i])
					}
				}
			}
		}
	})
}

package audit_test

import (
	"testing"
	"time"

	"github.com/coffer-registry/coffer/audit"
)

// BenchmarkRecord: events recorded and written (encoded, appended, group-committed) per
// second, the audit trail's share of every request.
func BenchmarkRecord(b *testing.B) {
	w, err := audit.Open(audit.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			e := event(i, now, audit.Allow, "arn:aws:iam::111122223333:user/alice", "team/app")
			e.RequestParameters = map[string]any{"registryId": "111122223333", "repositoryName": "team/app", "reference": "latest"}
			w.Record(e)
			i++
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

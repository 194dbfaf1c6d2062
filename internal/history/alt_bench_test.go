package history

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/chathub/chathub/internal/subject"
)

// The alternatives to Latest measured for docs/benchmarks-history.md, and the round trips
// Latest is made of. Each reads room "big"'s latest 50 and checks it got them.

func BenchmarkRoundTrip(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	subj := subject.Events("big")
	mid := bench.big[len(bench.big)/2]
	for name, fn := range map[string]func() error{
		"last":        func() error { _, _, err := st.last(ctx, subj); return err },
		"probe-first": func() error { _, _, err := st.probe(ctx, subj, 1); return err },
		"probe-mid":   func() error { _, _, err := st.probe(ctx, subj, mid+1); return err },
		"probe-small": func() error { _, _, err := st.probe(ctx, subject.Events("room-42"), 1); return err },
		"stream-info": func() error {
			si, err := st.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
			if err == nil && si.State.Subjects[subj] != benchBig {
				b.Fatal(si.State.Subjects)
			}
			return err
		},
		"stream-info-nofilter": func() error { _, err := st.stream.Info(ctx); return err },
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAltLatest(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	subj := subject.Events("big")
	want := bench.big[len(bench.big)-50]
	b.Run("jetstreamext.GetBatch", func(b *testing.B) {
		for b.Loop() {
			sp, _, _ := st.locate(ctx, subj, 0)
			from := back(sp.hi, sp.floor, float64(sp.hi-sp.floor+1)/float64(sp.count)*50*1.25+1)
			msgs, err := jetstreamext.GetBatch(ctx, st.js, subject.Stream, 66, jetstreamext.GetBatchSubject(subj), jetstreamext.GetBatchSeq(from))
			if err != nil {
				b.Fatal(err)
			}
			var ids []uint64
			for m, err := range msgs {
				if err != nil {
					b.Fatal(err)
				}
				ids = append(ids, m.Sequence)
			}
			if len(ids) < 50 || ids[len(ids)-50] != want {
				b.Fatal("wrong window", len(ids))
			}
		}
	})
	b.Run("ordered-consumer", func(b *testing.B) {
		for b.Loop() {
			sp, _, _ := st.locate(ctx, subj, 0)
			from := back(sp.hi, sp.floor, float64(sp.hi-sp.floor+1)/float64(sp.count)*50*1.25+1)
			altConsumer(b, ctx, st, subj, from, sp.hi, want)
		}
	})
	b.Run("multi-last-walk", func(b *testing.B) {
		for b.Loop() {
			upto := uint64(0)
			var seq uint64
			for range 50 {
				opts := []jetstreamext.GetLastForOpt{}
				if upto > 0 {
					opts = append(opts, jetstreamext.GetLastMsgsUpToSeq(upto))
				}
				msgs, err := jetstreamext.GetLastMsgsFor(ctx, st.js, subject.Stream, []string{subj}, opts...)
				if err != nil {
					b.Fatal(err)
				}
				for m, err := range msgs {
					if err != nil {
						b.Fatal(err)
					}
					seq = m.Sequence
				}
				upto = seq - 1
			}
			if seq != want {
				b.Fatal("wrong window", seq, want)
			}
		}
	})
}

// altConsumer reads subj from `from` to hi with an ordered consumer.
func altConsumer(b *testing.B, ctx context.Context, st *Store, subj string, from, hi, want uint64) {
	cons, err := st.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		b.Fatal(err)
	}
	var ids []uint64
	for tries := 0; len(ids) == 0 || ids[len(ids)-1] < hi; tries++ {
		batch, err := cons.FetchNoWait(100)
		if err != nil && tries < 10 {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			ids = append(ids, md.Sequence.Stream)
		}
	}
	if len(ids) < 50 || ids[len(ids)-50] != want {
		b.Fatal("wrong window", len(ids))
	}
}

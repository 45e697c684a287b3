// Package connector is the contract between the engine and the systems it
// reads from and writes to: Source, Sink and Caller, the optional abilities
// found by type assertion (Resumable, FetchByID, Committer), the declarative
// field spec of each kind's settings, and the registry that kinds join in
// init().
//
// The engine uses a connector like this:
//
//	kind, err := connector.Lookup("file")               // registered in init()
//	src, err := kind.NewSource(env, settings)           // checks settings, no I/O
//	if r, ok := src.(connector.Resumable); ok && pos != nil {
//		err = r.Resume(pos)                               // before Open
//	}
//	err = src.Open(ctx)
//	for {
//		recs, pos, err := src.Read(ctx)                   // a bounded batch
//		if errors.Is(err, io.EOF) { break }
//		... every record of recs ends succeeded, failed or skipped ...
//		... once the sinks have flushed them: checkpoint pos ...
//	}
//	src.Close()
//
// Records are values in transit: a connector never keeps one after it has
// been read or written, and nothing here stores data (DESIGN §2). Delivery
// is at least once: the engine checkpoints a Position only after every
// record read before it has an outcome and every sink has flushed it, so a
// run that dies reads at most the batches after its last checkpoint again.
//
// A kind's package registers itself in init(); the binary links the kinds
// it offers by blank-importing internal/connectors/standard.
package connector

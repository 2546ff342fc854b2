package imapfetch

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"dkimrelay/events"
	"dkimrelay/reports/importer"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

// sizes asks the sizes of the messages (RFC822.SIZE), so that a message
// over the import limit is never downloaded.
func sizes(c *client.Client, uids []uint32) (map[uint32]uint32, error) {
	out := map[uint32]uint32{}
	if len(uids) == 0 {
		return out, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size}, ch) }()
	for m := range ch {
		out[m.Uid] = m.Size
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("fetching message sizes: %w", err)
	}
	return out, nil
}

// message fetches and imports one message. It returns the reports found,
// whether the message held any, and an error only when the mailbox or the
// store failed (then the poll stops and the message stays unseen).
func (f *Fetcher) message(ctx context.Context, c *client.Client, uid, size uint32) (int, bool, error) {
	if int64(size) > f.im.Limits.Input {
		events.ReportSkip{Mailbox: f.name, UID: uid, Reason: fmt.Sprintf("larger than the import limit of %d bytes", f.im.Limits.Input)}.Log(f.log)
		return 0, false, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uid)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, 1)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, ch) }()
	var body []byte
	var readErr error
	for m := range ch {
		if r := m.GetBody(section); r != nil && body == nil {
			body, readErr = io.ReadAll(io.LimitReader(r, f.im.Limits.Input+1))
		}
	}
	if err := <-done; err != nil {
		return 0, false, fmt.Errorf("fetching message %d: %w", uid, err)
	}
	if readErr != nil {
		return 0, false, fmt.Errorf("fetching message %d: %w", uid, readErr)
	}
	if int64(len(body)) > f.im.Limits.Input {
		events.ReportSkip{Mailbox: f.name, UID: uid, Reason: fmt.Sprintf("larger than the import limit of %d bytes", f.im.Limits.Input)}.Log(f.log)
		return 0, false, nil
	}
	n := 0
	var problems []string
	err := f.im.Reader(ctx, fmt.Sprintf("imap:%d", uid), bytes.NewReader(body), func(o importer.Outcome) {
		if o.Skipped() {
			problems = append(problems, o.Line())
			return
		}
		n++
		events.ReportImport{Mailbox: f.name, UID: uid, Kind: string(o.Report.Kind), Reporter: o.Report.Reporter,
			ReportID: o.Report.ID, Added: o.Added}.Log(f.log)
	})
	if err != nil {
		return n, false, err
	}
	if n == 0 {
		for _, p := range problems {
			events.ReportSkip{Mailbox: f.name, UID: uid, Reason: p}.Log(f.log)
		}
		return 0, false, nil
	}
	return n, true, nil
}

// markSeen sets \Seen on the messages read.
func (f *Fetcher) markSeen(c *client.Client, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.SeenFlag}, nil); err != nil {
		return fmt.Errorf("marking messages read: %w", err)
	}
	return nil
}

// move moves the imported messages to the processed folder, creating it
// when it does not exist.
func (f *Fetcher) move(c *client.Client, uids []uint32) error {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	err := c.UidMove(set, f.cfg.ProcessedFolder)
	if err == nil {
		return nil
	}
	// The folder may be missing: create it and try once more.
	if cerr := c.Create(f.cfg.ProcessedFolder); cerr != nil {
		return fmt.Errorf("moving messages to %q: %w; creating it: %v", f.cfg.ProcessedFolder, err, cerr)
	}
	if err := c.UidMove(set, f.cfg.ProcessedFolder); err != nil {
		return fmt.Errorf("moving messages to %q: %w (check reports.imap.processed_folder)", f.cfg.ProcessedFolder, err)
	}
	return nil
}

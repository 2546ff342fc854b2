package reports

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"dkimrelay/authcheck"
	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/reports/importer"
	"dkimrelay/reports/store"
	"dkimrelay/reports/summary"
)

// OpenStore opens the report store of cfg: files in data_dir/reports.
func OpenStore(cfg *config.Config) (store.Store, error) {
	return store.OpenFiles(cfg.ReportsDir())
}

// Counts are what an import did.
type Counts struct{ Added, Duplicates, Skipped int }

// Import imports every path ("-" is in) and writes one line per report to
// out and one line per skipped input to errOut, naming the input and why.
// The error is set only when the store failed.
func Import(ctx context.Context, st store.Store, paths []string, in io.Reader, out, errOut io.Writer) (Counts, error) {
	var c Counts
	im := importer.New(st)
	for _, p := range paths {
		err := im.Path(ctx, p, in, func(o importer.Outcome) {
			switch {
			case o.Skipped():
				c.Skipped++
				fmt.Fprintln(errOut, o.Line())
			case o.Added:
				c.Added++
				fmt.Fprintln(out, o.Line())
			default:
				c.Duplicates++
				fmt.Fprintln(out, o.Line())
			}
		})
		if err != nil {
			return c, fmt.Errorf("importing %s: %w", p, err)
		}
	}
	return c, nil
}

// Self is what the relay knows about itself for a summary: its egress
// addresses and its keys. Problems reading them are returned as notes for
// the operator; the summary is still useful without them.
func Self(cfg *config.Config) (egress []netip.Addr, ks []summary.Key, notes []string) {
	ips, note := authcheck.EgressIPs(cfg.Delivery.EgressIPs, cfg.Delivery.Mode)
	if note != "" {
		notes = append(notes, "egress addresses: "+note)
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			egress = append(egress, a.Unmap())
		}
	}
	st, err := keys.Open(cfg.KeysDir())
	if err != nil {
		return egress, nil, append(notes, err.Error())
	}
	list, damaged := st.List()
	for _, err := range damaged {
		notes = append(notes, err.Error())
	}
	for _, k := range list {
		ks = append(ks, summary.Key{Domain: k.Domain, Selector: k.Selector, State: string(k.State), Retired: k.Retired})
	}
	return egress, ks, notes
}

// Summarize sums up the reports ending at or after since (all when zero)
// about domain (all when empty), with what the relay knows about itself.
func Summarize(ctx context.Context, cfg *config.Config, st store.Store, domain string, since time.Time) (*summary.Summary, []string, error) {
	egress, ks, notes := Self(cfg)
	opt := summary.Options{Domain: strings.ToLower(strings.TrimSuffix(domain, ".")), Since: since.UTC(), Egress: egress, Keys: ks}
	if since.IsZero() {
		opt.Since = time.Time{}
	}
	list, err := st.List(ctx, opt.Since)
	if list == nil && err != nil {
		return nil, notes, err
	}
	if err != nil {
		notes = append(notes, err.Error())
	}
	return summary.Build(list, opt), notes, nil
}

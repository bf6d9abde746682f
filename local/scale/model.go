// Package scale is the platform's scale model: a workload generator that turns
// tenants of Zipf-distributed sizes and the rates of what their visitors,
// agents and channels do into the read and write units each DynamoDB partition
// takes per second, table and indexes alike. The keys come from the store's own
// key functions (footprints.go), and footprints_test.go runs each store call
// against moto through testaws.Meter and checks that it spends its units on the
// partitions its footprint names, so the model cannot drift from the code.
//
// A partition here is one partition key value. DynamoDB may split a busy item
// collection by sort key ("split for heat"), but not one whose traffic follows
// an ever-growing sort key, and the model relies on it for none: a partition
// key must stay within a partition's limits on its own.
package scale

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/livesupportbot/backend/shared/ids"
)

// A partition's limits (DynamoDB Developer Guide, "Best practices for designing
// and using partition keys effectively": 3,000 read units and 1,000 write
// units per second per partition).
const (
	PartitionRCU = 3000.0
	PartitionWCU = 1000.0
)

// Tables and indexes as the model names them.
const (
	Data    = "Data"
	Archive = "Archive"
	GSI1    = "GSI1"
	GSI2    = "GSI2"
)

// Part is one partition: a partition key value of a table or of one of its
// indexes ("" for the table itself).
type Part struct{ Table, Index, Key string }

func (p Part) String() string {
	s := p.Table
	if p.Index != "" {
		s += "/" + p.Index
	}
	return s + " " + p.Key
}

// Access is what one call spends on one partition.
type Access struct {
	Part
	R, W float64
}

// Load is a partition's units per second.
type Load struct {
	Part
	RCU, WCU float64
	// Tenant is the rank of the tenant that put the load (0: the platform's
	// own partitions, shared by every tenant).
	Tenant int
}

// Use is the larger of the load's shares of a partition's read and write
// limits (1 = a full partition).
func (l Load) Use() float64 { return max(l.RCU/PartitionRCU, l.WCU/PartitionWCU) }

// Platform is a design point: tenants whose sizes follow a Zipf law (tenant k
// of N has 1/k^S the size of the largest), and the largest tenant's rates.
type Platform struct {
	Name    string
	Tenants int
	S       float64
	// Largest is the largest tenant's workload; tenant k's is Largest scaled
	// by 1/k^S.
	Largest Workload
	// Now is the model's clock (keys by month, day).
	Now time.Time
}

// Size is tenant k's size relative to the largest (k from 1).
func (p Platform) Size(k int) float64 { return math.Pow(float64(k), -p.S) }

// TotalSize is the sum of all tenants' sizes (in largest tenants).
func (p Platform) TotalSize() float64 {
	t := 0.0
	for k := 1; k <= p.Tenants; k++ {
		t += p.Size(k)
	}
	return t
}

// maxSamples bounds the calls sampled per operation and tenant: a rate above
// it is spread over that many sampled calls of equal weight.
const maxSamples = 1 << 17

// Result is a model run: every partition at or above Floor of a partition's
// limits, hottest first, and the platform's totals.
type Result struct {
	Platform Platform
	Hot      []Load
	// Units per second over the whole platform, table and indexes.
	RCU, WCU float64
	// Calls per second by operation, over the whole platform.
	Rates map[string]float64
	// Units per second by operation, over the whole platform.
	OpRCU, OpWCU map[string]float64
	// Units per second by table and index ("Data", "Data/GSI1", ...).
	TableRCU, TableWCU map[string]float64
}

// Floor is the share of a partition's limits from which Run keeps a partition.
const Floor = 0.02

// Run models the platform: for each tenant and operation it samples calls at
// the operation's rate, adds up the units by partition, and keeps the
// partitions at or above Floor.
func Run(p Platform, ops []Op) Result {
	res := Result{Platform: p, Rates: map[string]float64{}, OpRCU: map[string]float64{}, OpWCU: map[string]float64{},
		TableRCU: map[string]float64{}, TableWCU: map[string]float64{}}
	platform := map[Part]*Load{}
	for k := 1; k <= p.Tenants; k++ {
		t := &Tenant{Rank: k, ID: tenantID(k), Size: p.Size(k), Now: p.Now}
		t.Workload = p.Largest.Scale(t.Size)
		t.InboxShards = InboxShardsFor(t.Workload)
		loads := map[Part]*Load{}
		rng := rand.New(rand.NewPCG(uint64(k), 0x5ca1e))
		for _, op := range ops {
			rate := op.Rate(t)
			if rate <= 0 {
				continue
			}
			res.Rates[op.Name] += rate
			n := int(min(math.Ceil(rate), maxSamples))
			w := rate / float64(n)
			for range n {
				for _, a := range op.Calls(t, rng) {
					res.RCU += a.R * w
					res.WCU += a.W * w
					res.OpRCU[op.Name] += a.R * w
					res.OpWCU[op.Name] += a.W * w
					tbl := a.Table
					if a.Index != "" {
						tbl += "/" + a.Index
					}
					res.TableRCU[tbl] += a.R * w
					res.TableWCU[tbl] += a.W * w
					m := loads
					if !strings.HasPrefix(a.Key, "T#"+t.ID+"#") {
						m = platform
					}
					l := m[a.Part]
					if l == nil {
						l = &Load{Part: a.Part, Tenant: k}
						m[a.Part] = l
					}
					l.RCU += a.R * w
					l.WCU += a.W * w
				}
			}
		}
		for _, l := range loads {
			if l.Use() >= Floor {
				res.Hot = append(res.Hot, *l)
			}
		}
	}
	for _, l := range platform {
		l.Tenant = 0
		if l.Use() >= Floor {
			res.Hot = append(res.Hot, *l)
		}
	}
	slices.SortFunc(res.Hot, func(a, b Load) int {
		return cmp.Or(cmp.Compare(b.Use(), a.Use()), strings.Compare(a.Part.String(), b.Part.String()))
	})
	return res
}

// Over returns the partitions above share of a partition's limits.
func (r Result) Over(share float64) []Load {
	var out []Load
	for _, l := range r.Hot {
		if l.Use() > share {
			out = append(out, l)
		}
	}
	return out
}

// Table formats the n hottest partitions, one per line, with their tenant's
// rank and the kind of partition (the key with its ids replaced by shapes).
func (r Result) Table(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d tenants, Zipf s=%.2f; platform %.0f RCU/s, %.0f WCU/s\n", r.Platform.Name, r.Platform.Tenants, r.Platform.S, r.RCU, r.WCU)
	fmt.Fprintf(&b, "%-4s %-8s %-58s %10s %10s %7s\n", "#", "tenant", "partition", "WCU/s", "RCU/s", "use")
	seen := map[string]bool{}
	i := 0
	for _, l := range r.Hot {
		shape := Shape(l.Part)
		if seen[shape] {
			continue // one row per kind of partition: its hottest
		}
		seen[shape] = true
		i++
		if i > n {
			break
		}
		who := "platform"
		if l.Tenant > 0 {
			who = fmt.Sprintf("#%d", l.Tenant)
		}
		fmt.Fprintf(&b, "%-4d %-8s %-58s %10.0f %10.0f %6.0f%%\n", i, who, shape, l.WCU, l.RCU, 100*l.Use())
	}
	return b.String()
}

// OpsTable formats the platform's rate and units per second of each
// operation, in the order of ops.
func (r Result) OpsTable(ops []Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-74s %12s %12s %12s\n", "operation (whole platform)", "calls/s", "WCU/s", "RCU/s")
	for _, op := range ops {
		fmt.Fprintf(&b, "%-74s %12.1f %12.0f %12.0f\n", op.Name, r.Rates[op.Name], r.OpWCU[op.Name], r.OpRCU[op.Name])
	}
	fmt.Fprintf(&b, "%-74s %12s %12.0f %12.0f\n", "total", "", r.WCU, r.RCU)
	for _, tbl := range slices.Sorted(maps.Keys(r.TableWCU)) {
		fmt.Fprintf(&b, "%-74s %12s %12.0f %12.0f\n", "  of which "+tbl, "", r.TableWCU[tbl], r.TableRCU[tbl])
	}
	return b.String()
}

// Units sums the platform's units per second of the operations whose names
// start with one of prefixes.
func (r Result) Units(prefixes ...string) (rcu, wcu float64) {
	for name := range r.Rates {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				rcu += r.OpRCU[name]
				wcu += r.OpWCU[name]
				break
			}
		}
	}
	return rcu, wcu
}

// Shape is a partition's kind: its key with tenant and entity ids, months and
// hashes replaced by placeholders (T#t#CONV#v ...).
func Shape(p Part) string {
	parts := strings.Split(p.Key, "#")
	for i, s := range parts {
		switch {
		case i == 1 && parts[0] == "T" && s != "_platform" && s != "_slack":
			parts[i] = "t"
		case idKind(s) != "":
			parts[i] = "<" + idKind(s) + ">"
		case len(s) == 7 && s[4] == '-':
			parts[i] = "<yyyy-mm>"
		case i > 0 && isNumber(s) && len(s) <= 3:
			parts[i] = "<n>"
		case len(s) >= 16 && isHex(s):
			parts[i] = "<hash>"
		case len(s) == 3 && isHex(s) && i == len(parts)-1 && strings.HasSuffix(p.Key, "SUPPRESS#"+s):
			parts[i] = "<hh>"
		case strings.HasPrefix(s, "net"):
			parts[i] = "<network>"
		}
	}
	k := strings.Join(parts, "#")
	// A sharded key's shards (shard 0 has no suffix) are one kind.
	for _, family := range []string{"#RET#", "#CONVS#", "#AUDIT", "#SUPPRESS", "#PARKED#"} {
		if strings.Contains(k, family) {
			k = strings.TrimSuffix(strings.TrimSuffix(k, "#<n>"), "#<hh>") + "[#n]"
			break
		}
	}
	if p.Index != "" {
		return p.Table + "/" + p.Index + " " + k
	}
	return p.Table + " " + k
}

// idKind is the kind of id s is ("" if none).
func idKind(s string) string {
	for _, k := range []string{ids.Conversation, ids.Tenant, ids.Contact, ids.Message, ids.APIKey, ids.Request, ids.Event} {
		if ids.Valid(k, s) {
			return k
		}
	}
	return ""
}

func isNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}

// Tenant is one tenant of a run.
type Tenant struct {
	Rank     int
	ID       string
	Size     float64
	Workload Workload
	// InboxShards is the tenant's inbox shards (InboxShardsFor its workload).
	InboxShards int
	Now         time.Time
}

const base32 = "0123456789abcdefghjkmnpqrstvwxyz"

// id is the i-th id of a kind in tenant t: the form of shared/ids (the kind
// and 26 base32 characters), its characters from a hash, so that ids spread
// over shards as real ones do.
func id(kind, tenant string, i int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", tenant, kind, i))
	b := []byte(kind)
	x := binary.BigEndian.Uint64(h[:8])
	for j := range 26 {
		if j == 12 {
			x = binary.BigEndian.Uint64(h[8:16])
		}
		b = append(b, base32[x&31])
		x >>= 5
	}
	return string(b)
}

func tenantID(rank int) string { return id(ids.Tenant, "platform", rank) }

// pick is a uniformly random index below n (at least 1).
func pick(rng *rand.Rand, n float64) int { return rng.IntN(max(1, int(n))) }

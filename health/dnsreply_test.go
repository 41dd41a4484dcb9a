package health

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzDNSReply feeds the DNS check's reader whatever a server (or anyone
// who can send to the check's port) answers: it never panics; it accepts
// only a response carrying the query's ID, with the RCODE the header's low
// four bits hold; and a real answer is always read as one.
func FuzzDNSReply(f *testing.F) {
	reply := func(id uint16, rcode dnsmessage.RCode, answers bool) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RCode: rcode, Authoritative: true})
		b.StartQuestions()
		n := dnsmessage.MustNewName("example.org.")
		b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET})
		if answers {
			b.StartAnswers()
			b.AResource(dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 60},
				dnsmessage.AResource{A: [4]byte{198, 18, 0, 53}})
		}
		out, _ := b.Finish()
		return out
	}
	f.Add(reply(0x1234, dnsmessage.RCodeSuccess, true), uint16(0x1234))
	f.Add(reply(0x1234, dnsmessage.RCodeNameError, false), uint16(0x1234))
	f.Add(reply(0x4321, dnsmessage.RCodeSuccess, false), uint16(0x1234))
	f.Add([]byte{0x12, 0x34, 0x81}, uint16(0x1234))
	f.Add([]byte{}, uint16(0))
	f.Add(make([]byte, 12), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, id uint16) {
		ours, rcode := dnsReply(b, id)
		if !ours {
			if rcode != 0 {
				t.Fatalf("not ours but rcode %v", rcode)
			}
			return
		}
		if len(b) < 12 || binary.BigEndian.Uint16(b) != id || b[2]&0x80 == 0 {
			t.Fatalf("accepted %x for query %#04x", b, id)
		}
		if want := dnsmessage.RCode(b[3] & 0x0f); rcode != want {
			t.Fatalf("rcode %v, the header says %v", rcode, want)
		}
		// Whatever follows the header, a well-formed answer with this ID
		// and RCODE reads the same.
		if ok, rc := dnsReply(reply(id, rcode, true), id); !ok || rc != rcode {
			t.Fatalf("a real answer with rcode %v read as %v %v", rcode, ok, rc)
		}
	})
}

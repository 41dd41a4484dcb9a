package conntab

// TCP states, numbered as IPVS's IP_VS_TCP_S_* (ip_vs.h).
const (
	TCPNone uint8 = iota
	TCPEstablished
	TCPSynSent
	TCPSynRecv
	TCPFinWait
	TCPTimeWait
	TCPClose
	TCPCloseWait
	TCPLastAck
	TCPListen
	TCPSynAck
	tcpStates
)

// UDPNormal is UDP's only state (IP_VS_UDP_S_NORMAL).
const UDPNormal uint8 = 0

// SCTP states, numbered as IPVS's IP_VS_SCTP_S_*.
const (
	SCTPNone uint8 = iota
	SCTPInit1
	SCTPInit
	SCTPCookieSent
	SCTPCookieReplied
	SCTPCookieWait
	SCTPCookieEchoed
	SCTPEstablished
	SCTPShutdownSent
	SCTPShutdownReceived
	SCTPShutdownAckSent
	SCTPRejected
	SCTPClosed
	sctpStates
)

var tcpNames = [tcpStates]string{"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"}

var sctpNames = [sctpStates]string{"NONE", "INIT1", "INIT", "COOKIE_SENT", "COOKIE_REPLIED", "COOKIE_WAIT",
	"COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT", "SHUTDOWN_RECEIVED", "SHUTDOWN_ACK_SENT", "REJECTED", "CLOSED"}

// StateName returns the name ipvsadm -Lnc prints for a state.
func StateName(proto, state uint8) string {
	switch proto {
	case 6:
		if state < tcpStates {
			return tcpNames[state]
		}
	case 17:
		return "UDP"
	case 132:
		if state < sctpStates {
			return sctpNames[state]
		}
	case 0:
		return "NONE"
	}
	return "ERR!"
}

// Active reports whether a connection in this state counts in its
// destination's active connections (tcp_state_active_table: ESTABLISHED,
// SYN_SENT, SYN_RECV, SYNACK; SCTP's ESTABLISHED; UDP never).
func Active(proto, state uint8) bool {
	switch proto {
	case 6:
		return state == TCPEstablished || state == TCPSynSent || state == TCPSynRecv || state == TCPSynAck
	case 132:
		return state == SCTPEstablished
	}
	return false
}

// TCP state tables, ip_vs_proto_tcp.c tcp_states[]: for each table, a row
// per flag (syn, fin, ack, rst) and a column per current state
// (sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA).
const (
	sNO = TCPNone
	sES = TCPEstablished
	sSS = TCPSynSent
	sSR = TCPSynRecv
	sFW = TCPFinWait
	sTW = TCPTimeWait
	sCL = TCPClose
	sCW = TCPCloseWait
	sLA = TCPLastAck
	sLI = TCPListen
	sSA = TCPSynAck
)

// TCPTable selects a TCP state table.
type TCPTable uint8

// TCP state tables: a packet from the client (Input), from the real server
// (Output), or from the client of a connection whose replies bypass the
// director (InputOnly, DR and TUN).
const (
	Input TCPTable = iota
	Output
	InputOnly
)

var tcpStateTable = [3][4][tcpStates]uint8{
	Input: {
		/*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		/*fin*/ {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
	},
	Output: {
		/*syn*/ {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
		/*fin*/ {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
		/*rst*/ {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
	},
	InputOnly: {
		/*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		/*fin*/ {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
		/*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		/*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
}

// TCPTransition returns the state after a packet with the given TCP flags
// byte, as tcp_state_idx and set_tcp_state do: the first of rst, syn, fin,
// ack that is set selects the row; a packet with none keeps the state.
func TCPTransition(table TCPTable, state, flags uint8) uint8 {
	if state >= tcpStates {
		return state
	}
	var row int
	switch {
	case flags&0x04 != 0:
		row = 3
	case flags&0x02 != 0:
		row = 0
	case flags&0x01 != 0:
		row = 1
	case flags&0x10 != 0:
		row = 2
	default:
		return state
	}
	return tcpStateTable[table][row][state]
}

// SCTP chunk types that move the reduced state machine.
const (
	sctpData         = 0
	sctpInit         = 1
	sctpInitAck      = 2
	sctpAbort        = 6
	sctpShutdown     = 7
	sctpShutdownAck  = 8
	sctpCookieEcho   = 10
	sctpCookieAck    = 11
	sctpShutdownDone = 14
)

// SCTPTransition moves an SCTP association's state on the first chunk type
// of a packet. It is a reduced form of ip_vs_proto_sctp.c's table, which
// also tells the direction of every chunk: the handshake walks INIT1, INIT,
// COOKIE_ECHOED to ESTABLISHED; shutdown and ABORT lead to CLOSED. Its
// timeouts, and so the life of an entry, match the kernel's.
func SCTPTransition(state, chunk uint8, fromClient bool) uint8 {
	switch chunk {
	case sctpInit:
		if fromClient {
			return SCTPInit1
		}
		return SCTPInit
	case sctpInitAck:
		return SCTPInit
	case sctpCookieEcho:
		return SCTPCookieEchoed
	case sctpCookieAck:
		return SCTPEstablished
	case sctpData:
		if state == SCTPCookieEchoed || state == SCTPCookieReplied {
			return SCTPEstablished
		}
	case sctpShutdown:
		if fromClient {
			return SCTPShutdownSent
		}
		return SCTPShutdownReceived
	case sctpShutdownAck:
		return SCTPShutdownAckSent
	case sctpShutdownDone, sctpAbort:
		return SCTPClosed
	}
	return state
}

// Timeouts are the per-state lifetimes in seconds.
type Timeouts struct {
	TCP  [tcpStates]uint32
	UDP  uint32
	SCTP [sctpStates]uint32
}

// DefaultTimeouts returns the kernel's defaults (tcp_timeouts, udp_timeouts,
// sctp_timeouts).
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TCP: [tcpStates]uint32{TCPNone: 2, TCPEstablished: 15 * 60, TCPSynSent: 2 * 60, TCPSynRecv: 60,
			TCPFinWait: 2 * 60, TCPTimeWait: 2 * 60, TCPClose: 10, TCPCloseWait: 60, TCPLastAck: 30,
			TCPListen: 2 * 60, TCPSynAck: 2 * 60},
		UDP: 5 * 60,
		SCTP: [sctpStates]uint32{SCTPNone: 2, SCTPInit1: 4, SCTPInit: 61, SCTPCookieSent: 61,
			SCTPCookieReplied: 61, SCTPCookieWait: 61, SCTPCookieEchoed: 61, SCTPEstablished: 15 * 60,
			SCTPShutdownSent: 61, SCTPShutdownReceived: 61, SCTPShutdownAckSent: 61, SCTPRejected: 4,
			SCTPClosed: 61},
	}
}

// Ticks returns the timeout of a protocol state in ticks; other protocols
// get the UDP timeout.
func (t *Timeouts) Ticks(proto, state uint8) uint32 {
	var s uint32
	switch {
	case proto == 6 && state < tcpStates:
		s = t.TCP[state]
	case proto == 132 && state < sctpStates:
		s = t.SCTP[state]
	default:
		s = t.UDP
	}
	return s * TicksPerSecond
}

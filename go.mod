module github.com/ulvs/ulvs

go 1.26.0

require (
	github.com/dgryski/go-sip13 v0.0.0-20200911182023-62edffca9245
	github.com/google/go-cmp v0.7.0
	github.com/gopacket/gopacket v1.7.7
	github.com/spf13/pflag v1.1.0
)

require (
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)

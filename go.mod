module github.com/ulvs/ulvs

go 1.26.0

package report

import (
	"bytes"
	"encoding/base64"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
)

// parseEntryLine reads a line of entries.jsonl. The lines Export writes
// (fields in their order, no escapes) are read by hand, several times
// faster than by a JSON decoder; any other valid line by the decoder.
func parseEntryLine(line []byte, e *Entry) error {
	if fastEntryLine(line, e) {
		return nil
	}
	*e = Entry{}
	return jsonv2.Unmarshal(line, e)
}

func fastEntryLine(line []byte, e *Entry) bool {
	if bytes.IndexByte(line, '\\') >= 0 {
		return false
	}
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return false
	}
	i := bytes.IndexByte(rest, ',')
	if i < 1 {
		return false
	}
	seq, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil {
		return false
	}
	rest = rest[i:]
	var fields [6][]byte
	for k, name := range []string{`,"time":"`, `,"actor":"`, `,"kind":"`, `,"subject":"`, `,"payload_sha256":"`, `,"payload":"`} {
		if rest, ok = bytes.CutPrefix(rest, []byte(name)); !ok {
			return false
		}
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return false
		}
		fields[k], rest = rest[:j], rest[j+1:]
	}
	if !bytes.Equal(rest, []byte("}")) {
		return false
	}
	payload := make([]byte, base64.StdEncoding.DecodedLen(len(fields[5])))
	n, err := base64.StdEncoding.Decode(payload, fields[5])
	if err != nil {
		return false
	}
	*e = Entry{Seq: seq, Time: string(fields[0]), Actor: string(fields[1]), Kind: string(fields[2]), Subject: string(fields[3]),
		PayloadSHA256: string(fields[4]), Payload: payload[:n]}
	return true
}

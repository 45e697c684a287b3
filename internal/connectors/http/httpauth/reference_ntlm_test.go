package httpauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"

	ntlmssp "github.com/Azure/go-ntlmssp"
	"golang.org/x/crypto/md4"
)

// MS-NLMP ([MS-NLMP] NT LAN Manager Authentication Protocol) §4.2.1
// common values and §4.2.4 NTLMv2 results.
const (
	nlmpUser     = "User"
	nlmpDomain   = "Domain"
	nlmpPassword = "Password"
	// §4.2.1: server challenge, client challenge and time.
	nlmpServerChallenge = "0123456789abcdef"
	nlmpClientChallenge = "aaaaaaaaaaaaaaaa"
	nlmpTime            = "0000000000000000"
	// §4.2.4: the server name AV pairs (MsvAvNbDomainName "Domain",
	// MsvAvNbComputerName "Server", MsvAvEOL).
	nlmpTargetInfo = "02000c0044006f006d00610069006e00" + "01000c00530065007200760065007200" + "00000000"
	// §4.2.4.3: the CHALLENGE_MESSAGE.
	nlmpChallenge = "4e544c4d53535000020000000c000c003800000033828ae2" +
		"0123456789abcdef00000000000000002400240044000000" +
		"060070170000000f530065007200760065007200" +
		"02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000"
	// §4.2.4.1.1, §4.2.4.1.2, §4.2.4.2.1, §4.2.4.2.2.
	nlmpResponseKeyNT  = "0c868a403bfd7a93a3001ef22ef02e3f"
	nlmpSessionBaseKey = "8de40ccadbc14a82f15cb0ad0de95ca3"
	nlmpLMv2Response   = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
	nlmpNTProofStr     = "68cd0ab851e51c96aabc927bebef6a1c"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// The MS-NLMP §3.3.2 algorithm, written from the specification for these
// tests only (the product uses go-ntlmssp).
func refNTOWFv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// refTemp is §3.3.2's temp: Responserversion, HiResponserversion, Z(6),
// Time, ClientChallenge, Z(4), ServerName, Z(4).
func refTemp(time, clientChallenge, serverName []byte) []byte {
	b := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	b = append(b, time...)
	b = append(b, clientChallenge...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, serverName...)
	return append(b, 0, 0, 0, 0)
}

// TestMSNLMPNTLMv2Algorithm holds the test's own NTLMv2 code to the
// published §4.2.4 values, so it can judge the library below.
func TestMSNLMPNTLMv2Algorithm(t *testing.T) {
	key := refNTOWFv2(nlmpPassword, nlmpUser, nlmpDomain)
	if got := hex.EncodeToString(key); got != nlmpResponseKeyNT {
		t.Fatalf("NTOWFv2 %s, want %s (§4.2.4.1.1)", got, nlmpResponseKeyNT)
	}
	sc, cc := unhex(t, nlmpServerChallenge), unhex(t, nlmpClientChallenge)
	temp := refTemp(unhex(t, nlmpTime), cc, unhex(t, nlmpTargetInfo))
	proof := hmacMD5(key, sc, temp)
	if got := hex.EncodeToString(proof); got != nlmpNTProofStr {
		t.Errorf("NTProofStr %s, want %s (§4.2.4.2.2)", got, nlmpNTProofStr)
	}
	if got := hex.EncodeToString(hmacMD5(key, proof)); got != nlmpSessionBaseKey {
		t.Errorf("SessionBaseKey %s, want %s (§4.2.4.1.2)", got, nlmpSessionBaseKey)
	}
	if got := hex.EncodeToString(append(hmacMD5(key, sc, cc), cc...)); got != nlmpLMv2Response {
		t.Errorf("LMv2 response %s, want %s (§4.2.4.2.1)", got, nlmpLMv2Response)
	}
}

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func varField(t *testing.T, msg []byte, at int) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint16(msg[at:]))
	off := int(binary.LittleEndian.Uint32(msg[at+4:]))
	if off+n > len(msg) {
		t.Fatalf("field at %d points outside the message", at)
	}
	return msg[off : off+n]
}

// TestGoNTLMSSPAgainstMSNLMP feeds go-ntlmssp the §4.2.4.3 CHALLENGE_MESSAGE
// with the §4.2.1 credentials and checks its AUTHENTICATE_MESSAGE.
//
// What can be checked: the user and domain fields; the NTLMv2 client blob
// (version bytes, the client challenge, the server's AV pairs, the
// padding); and the NTProofStr, recomputed with the algorithm verified
// above. What cannot: the library takes the time from the clock (the
// challenge carries no MsvAvTimestamp) where §4.2.4 uses Time = 0, so its
// NTProofStr cannot equal 68cd0ab8... itself; the check recomputes it over
// the time the library put in its blob. It computes no session base key
// (it does not sign or seal) and sends no LMv2 response when the challenge
// has target information, so those two vectors are checked only against
// the test's own algorithm above. The client challenge is pinned to
// §4.2.1's aa..aa by replacing crypto/rand.Reader, which the library reads
// it from. §4.2.4.3's challenge sets NTLMSSP_NEGOTIATE_KEY_EXCH, which the
// library refuses (it does no key exchange); the flag is cleared here: the
// flags are not part of the NTLMv2 response.
func TestGoNTLMSSPAgainstMSNLMP(t *testing.T) {
	challenge := unhex(t, nlmpChallenge)
	flags := binary.LittleEndian.Uint32(challenge[20:])
	binary.LittleEndian.PutUint32(challenge[20:], flags&^(1<<30))

	saved := rand.Reader
	rand.Reader = constReader(0xaa)
	t.Cleanup(func() { rand.Reader = saved })

	msg, err := ntlmssp.NewAuthenticateMessage(challenge, nlmpDomain+`\`+nlmpUser, nlmpPassword, nil)
	rand.Reader = saved
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg[:12], append([]byte("NTLMSSP\x00"), 3, 0, 0, 0)) {
		t.Fatalf("not an AUTHENTICATE_MESSAGE: % x", msg[:12])
	}
	if got := varField(t, msg, 28); !bytes.Equal(got, utf16le(nlmpDomain)) {
		t.Errorf("DomainName % x, want %q in UTF-16LE", got, nlmpDomain)
	}
	if got := varField(t, msg, 36); !bytes.Equal(got, utf16le(nlmpUser)) {
		t.Errorf("UserName % x, want %q in UTF-16LE", got, nlmpUser)
	}
	nt := varField(t, msg, 20)
	ti := unhex(t, nlmpTargetInfo)
	if len(nt) != 16+28+len(ti)+4 {
		t.Fatalf("NtChallengeResponse is %d bytes, want %d", len(nt), 16+28+len(ti)+4)
	}
	blob := nt[16:]
	libTime := blob[8:16]
	want := refTemp(libTime, unhex(t, nlmpClientChallenge), ti)
	if !bytes.Equal(blob, want) {
		t.Errorf("NTLMv2 client blob\n got % x\nwant % x (§4.2.4.2.2 temp with the library's time)", blob, want)
	}
	key := refNTOWFv2(nlmpPassword, nlmpUser, nlmpDomain)
	if proof := hmacMD5(key, unhex(t, nlmpServerChallenge), blob); !bytes.Equal(nt[:16], proof) {
		t.Errorf("NTProofStr % x, want % x", nt[:16], proof)
	}
	if lm := varField(t, msg, 12); len(lm) != 0 {
		t.Logf("LmChallengeResponse % x", lm)
	}
}

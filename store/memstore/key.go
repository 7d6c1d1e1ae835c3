package memstore

import "github.com/sesame-go/sesame"

// keyByte holds 1 for each byte that sesame.ValidKey allows in a key, and
// 0 for the others. It is derived from ValidKey, so the rule has one home.
var keyByte = func() (table [256]byte) {
	for c := range table {
		if sesame.ValidKey(string([]byte{byte(c)})) {
			table[c] = 1
		}
	}
	return table
}()

// validKey reports what sesame.ValidKey reports, without a branch per
// byte: on the random characters of real keys, ValidKey's switch
// mispredicts often enough to cost more than the rest of Load.
func validKey(key string) bool {
	if len(key) == 0 || len(key) > sesame.MaxKeyLen {
		return false
	}
	ok := byte(1)
	for i := 0; i < len(key); i++ {
		ok &= keyByte[key[i]]
	}
	return ok == 1
}

// Package suggest finds the word a typo most likely meant, for "did you
// mean" hints in error messages.
package suggest

// Closest returns the candidate nearest to word by edit distance when it is
// a likely typo of it: different from word, and at most min(3, len(word)/3+1)
// edits away. It returns "" when no candidate is that close.
func Closest(word string, candidates []string) string {
	best, bestDist := "", min(3, len(word)/3+1)+1
	for _, c := range candidates {
		if d := Distance(word, c); d > 0 && d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes. Strings
// longer than 64 bytes are never typos of each other: their distance is the
// longer length.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package workspace

import "strings"

// suggest returns the candidate closest to s (edit distance at most max(2, len(s)/3), or a
// case-insensitive match, or a candidate s is a prefix of), "" when nothing is close.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	limit := len(s) / 3
	if limit < 1 {
		limit = 1
	}
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if c == s {
			continue
		}
		lc := strings.ToLower(c)
		d := levenshtein(ls, lc)
		if (d > limit || d >= len(ls)) && !(len(ls) >= 3 && strings.HasPrefix(lc, ls)) {
			continue
		}
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// didYouMean formats the suggestion suffix.
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return " (did you mean \"" + m + "\"?)"
	}
	return ""
}

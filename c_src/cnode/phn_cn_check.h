/* The strict check of a peer's message, before any of its bytes can reach the owner.
 * phn_cn_term_skip checks structure only; the owner decodes what the C-node forwards (a
 * call's tag, an operation's results) with binary_to_term/1, which refuses more. This
 * walk refuses, on top of structure, everything that decoder refuses:
 *   - atoms: ATOM_UTF8 / SMALL_ATOM_UTF8 that are not valid UTF-8 (overlong forms,
 *     surrogates, past U+10FFFF) or longer than 255 characters (also as node names);
 *   - NEW_FLOAT_EXT that is not finite;
 *   - BIT_BINARY_EXT whose bit count is not 1..8 (0 for an empty one);
 *   - bignums of more than 2 097 148 bytes (the BEAM's 16 777 192-bit limit);
 *   - maps with two equal keys (equal as =:= sees them, whatever their encodings);
 *   - exports (module and function atoms, a small-integer arity) and funs (module atom,
 *     integer old index and uniq, a pid, the free variables, a size that matches) not
 *     shaped as the BEAM encodes them;
 *   - pids, ports and references naming the owner's node outside the bounds the BEAM
 *     checks for its own node (a peer can name it): pid id < 2^15 and serial < 2^13,
 *     port id < 2^28, references of 1..3 words whose first is < 2^18; other nodes'
 *     take any 32-bit words and references of up to 5 words, as the BEAM does (OTP 26
 *     and later send wider ids). Until phn_cn_check_set_owner, every node is the owner's;
 *   - the pre-OTP-23 PID_EXT, PORT_EXT, REFERENCE_EXT and NEW_REFERENCE_EXT (the BEAM
 *     refuses some of them; OTP 23 and later never send them).
 * Iterative. Maps, funs and compounds inside a map key nested deeper than
 * PHN_CN_CHECK_MAX_DEPTH are refused (bounds the walk's memory); other nesting is free. */
#ifndef PHN_CN_CHECK_H
#define PHN_CN_CHECK_H

#define PHN_CN_CHECK_MAX_DEPTH 10000

/* Advance *idx over one term in buf[0, end) that binary_to_term/1 accepts. 0, or -1 when
 * it would refuse it (or on out of memory); *idx is then unspecified. */
int phn_cn_term_check(const char *buf, int *idx, int end);

/* The owner's node name (alive@host), whose identifiers are held to the BEAM's local
 * rules; NULL or "" forgets it (every node held to them). 0, or -1 for a name that is not
 * an atom. */
int phn_cn_check_set_owner(const char *node);

#endif

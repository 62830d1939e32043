/*
 * splice.h - edits to a received SIP message, applied to its bytes.
 *
 * A forwarded message is the received bytes plus a short list of edits: insert a line,
 * replace a value, delete a line. Edits name offsets in the original buffer; they may
 * come in any order and are applied in offset order (inserts at the same offset keep the
 * order in which they were added). Nothing else is touched: header order, case, compact
 * names, comma lists, white space and the body stay exactly as they arrived.
 */
#ifndef SW_SPLICE_H
#define SW_SPLICE_H

#include <stddef.h>

#define SIP_MAX_EDITS 32
#define SIP_EDIT_ARENA 8192 /* bytes of inserted text per message (an Identity is ~800) */

struct sip_edit {
    size_t off, del;         /* replace buf[off .. off+del) */
    size_t ins_off, ins_len; /* with arena[ins_off .. ins_off+ins_len) */
    unsigned seq;            /* order of addition, for stable sorting */
};

struct sip_edits {
    struct sip_edit e[SIP_MAX_EDITS];
    size_t n;
    char arena[SIP_EDIT_ARENA];
    size_t used;
};

void sip_edits_init(struct sip_edits *ed);
/* Each returns 0, or -1 when the edit list or the arena is full. Text is copied. */
int sip_edit_insert(struct sip_edits *ed, size_t off, const char *text, size_t len);
int sip_edit_replace(struct sip_edits *ed, size_t off, size_t del, const char *text, size_t len);
int sip_edit_delete(struct sip_edits *ed, size_t off, size_t del);
/* printf-style insert. */
int sip_edit_insertf(struct sip_edits *ed, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A point to come back to: a filter that needs several edits to do one thing (delete the
 * old Identity, add a Date, add ours) marks the list first and rolls back to the mark
 * when one edit does not fit, so a message is changed all or not at all.
 */
struct sip_edits_mark {
    size_t n, used;
};
static inline struct sip_edits_mark sip_edits_mark(const struct sip_edits *ed)
{
    struct sip_edits_mark mk = {ed->n, ed->used};
    return mk;
}
static inline void sip_edits_rollback(struct sip_edits *ed, struct sip_edits_mark mk)
{
    ed->n = mk.n;
    ed->used = mk.used;
}

/*
 * Writes buf with the edits applied into out (capacity cap). Returns the length, or
 * (size_t)-1 when edits overlap, lie outside buf, or the result does not fit.
 */
size_t sip_splice(const char *buf, size_t len, const struct sip_edits *ed, char *out, size_t cap);

#endif /* SW_SPLICE_H */

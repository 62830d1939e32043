/*
 * splice.c - applies a list of edits to the bytes of a received SIP message.
 *
 * This is how the proxy writes: the forwarded message is the received buffer copied
 * through, with each edit's range [off, off+del) replaced by its text. Edits are sorted
 * by offset; at one offset, pure inserts come before a replace or delete (so that text
 * can be put in front of a line that another edit removes), and ties keep the order of
 * addition. An edit that starts inside another's deleted range is refused rather than
 * guessed at. No allocation: inserted text lives in the fixed arena of struct sip_edits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "splice.h"

void sip_edits_init(struct sip_edits *ed)
{
    ed->n = 0;
    ed->used = 0;
}

int sip_edit_replace(struct sip_edits *ed, size_t off, size_t del, const char *text, size_t len)
{
    struct sip_edit *e;

    if (ed->n >= SIP_MAX_EDITS || len > SIP_EDIT_ARENA - ed->used || (len > 0 && text == NULL))
        return -1;
    e = &ed->e[ed->n];
    e->off = off;
    e->del = del;
    e->ins_off = ed->used;
    e->ins_len = len;
    e->seq = (unsigned)ed->n;
    if (len > 0)
        memmove(ed->arena + ed->used, text, len); /* text may be the arena (insertf) */
    ed->used += len;
    ed->n++;
    return 0;
}

int sip_edit_insert(struct sip_edits *ed, size_t off, const char *text, size_t len)
{
    return sip_edit_replace(ed, off, 0, text, len);
}

int sip_edit_delete(struct sip_edits *ed, size_t off, size_t del)
{
    return sip_edit_replace(ed, off, del, NULL, 0);
}

int sip_edit_insertf(struct sip_edits *ed, size_t off, const char *fmt, ...)
{
    size_t room = SIP_EDIT_ARENA - ed->used;
    va_list ap;
    int n;

    if (ed->n >= SIP_MAX_EDITS || room == 0)
        return -1;
    /* Formats straight into the arena; the edit is only recorded when the text fits. */
    va_start(ap, fmt);
    n = vsnprintf(ed->arena + ed->used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -1;
    return sip_edit_replace(ed, off, 0, ed->arena + ed->used, (size_t)n);
}

/* True when edit a goes before edit b. */
static int before(const struct sip_edit *a, const struct sip_edit *b)
{
    if (a->off != b->off)
        return a->off < b->off;
    if ((a->del == 0) != (b->del == 0))
        return a->del == 0;
    return a->seq < b->seq;
}

size_t sip_splice(const char *buf, size_t len, const struct sip_edits *ed, char *out, size_t cap)
{
    const struct sip_edit *order[SIP_MAX_EDITS];
    size_t i, j, pos = 0, w = 0;

    if (ed->n > SIP_MAX_EDITS)
        return (size_t)-1;
    /* Insertion sort: at most SIP_MAX_EDITS entries, and stable. */
    for (i = 0; i < ed->n; i++) {
        const struct sip_edit *e = &ed->e[i];
        for (j = i; j > 0 && before(e, order[j - 1]); j--)
            order[j] = order[j - 1];
        order[j] = e;
    }
    for (i = 0; i < ed->n; i++) {
        const struct sip_edit *e = order[i];
        size_t keep;

        if (e->off < pos || e->off > len || e->del > len - e->off || e->ins_off > SIP_EDIT_ARENA ||
            e->ins_len > SIP_EDIT_ARENA - e->ins_off)
            return (size_t)-1;
        keep = e->off - pos;
        if (keep > cap - w || e->ins_len > cap - w - keep)
            return (size_t)-1;
        if (keep > 0)
            memcpy(out + w, buf + pos, keep);
        w += keep;
        if (e->ins_len > 0)
            memcpy(out + w, ed->arena + e->ins_off, e->ins_len);
        w += e->ins_len;
        pos = e->off + e->del;
    }
    if (len - pos > cap - w)
        return (size_t)-1;
    if (len > pos)
        memcpy(out + w, buf + pos, len - pos);
    w += len - pos;
    return w;
}

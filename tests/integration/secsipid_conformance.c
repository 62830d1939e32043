/*
 * secsipid_conformance.c - one program, compiled against Debian's libsecsipid-dev header
 * (/usr/include/secsipid.h) and linked with -lsecsipid, that tests/integration/
 * secsipid_conformance.sh runs twice: on the Go library and, with LD_LIBRARY_PATH, on
 * stirwire's drop-in. Each call prints one line "NAME RESULT"; the script compares the
 * two runs line by line (and asserts ours where README.md lists a difference).
 *
 * Usage: secsipid_conformance calls PKI BASE HTTPBASE OUTDIR
 *            the ~80 calls; writes signed identities into OUTDIR for the cross check
 *        secsipid_conformance xcheck PKI INDIR
 *            checks the identities another run wrote (mutual verifiability)
 *        secsipid_conformance one NAME
 *            one call that crashes the Go library, alone in its process
 *        secsipid_conformance threads PKI N   /   fork PKI
 *            N threads signing and checking at once / sign and check on both sides of
 *            fork(); prints "threads ok" / "fork ok" or what failed
 *
 * The functions new in libsecsipid 1.3 (not in Debian's 1.2.0 header) are looked up
 * with dlsym, so that the one binary runs on both libraries.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <secsipid.h>

static const char *pki, *base, *httpbase, *outdir;
static char x5u[512], spkey[512], sppem[512];

static void say(const char *name, int rc)
{
    printf("%s %d\n", name, rc);
    fflush(stdout);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return strdup("");
    buf = calloc(1, 1 << 20);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    if ((f = fopen(path, "w")) != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static char *p(const char *file)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 512, "%s/%s", pki, file);
    return b;
}

/* Signs header/payload JSON with key file; returns the JWT (malloc'd) or "". */
static char *jwt(const char *hdr, const char *payload, const char *key)
{
    char *out = NULL;
    SecSIPIDSignJSONHP((char *)hdr, (char *)payload, (char *)key, &out);
    return out != NULL ? out : strdup("");
}

static char *hdr_json(const char *alg, const char *ppt, const char *typ, const char *url)
{
    char *s = malloc(1024);
    snprintf(s, 1024, "{\"alg\":\"%s\",\"ppt\":\"%s\",\"typ\":\"%s\",\"x5u\":\"%s\"}", alg, ppt,
             typ, url);
    return s;
}

static char *payload_json(long iat)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12025550199\"]},\"iat\":%ld,\"orig\":{\"tn\":"
             "\"12025550100\"},\"origid\":\"123e4567-e89b-42d3-a456-426614174000\"}",
             iat);
    return s;
}

/* jwt + ";info=<url>;alg=ES256;ppt=shaken" */
static char *full(const char *j, const char *params)
{
    size_t n = strlen(j) + strlen(params) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s%s", j, params);
    return s;
}

static char *params_for(const char *url)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), ";info=<%s>;alg=ES256;ppt=shaken", url);
    return buf;
}

/* A JWT signed by key over a fresh shaken payload for x5u url, with parameters. */
static char *ident(const char *url, const char *key, long iat)
{
    char *h = hdr_json("ES256", "shaken", "passport", url), *pl = payload_json(iat);
    char *j = jwt(h, pl, key), *f = full(j, params_for(url));
    free(h);
    free(pl);
    free(j);
    return f;
}

static void setcv(int cv, const char *ca, const char *inter, const char *crl)
{
    SecSIPIDOptSetN("CertVerify", cv);
    SecSIPIDOptSetS("CertCAFile", (char *)ca);
    SecSIPIDOptSetS("CertCAInter", (char *)inter);
    SecSIPIDOptSetS("CertCRLFile", (char *)crl);
}

static int calls(void)
{
    long now = (long)time(NULL);
    char *out = NULL, *id, *j, *h, *pl, *s, *keydata, *pubdata;
    char name[64], url[600], buf[8192];
    int rc, len;
    typedef int (*signpk_fn)(char *, char *, char *, char **);
    typedef int (*getn_fn)(char *, int *);
    signpk_fn signpk = (signpk_fn)dlsym(RTLD_DEFAULT, "SecSIPIDSignJSONHPPrvKey");
    getn_fn getn = (getn_fn)dlsym(RTLD_DEFAULT, "SecSIPIDOptGetN");

    /* --- signing --- */
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, spkey, &out);
    say("getid_ok", rc);
    spit("getid_ok", out);
    free(out);
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "B",
                             "123e4567-e89b-42d3-a456-426614174000", x5u, spkey, &out);
    say("getid_origid", rc);
    say("getid_origid_has_origid", strstr(out, ";info=<") != NULL);
    free(out);
    out = (char *)1;
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, "/nonexistent", &out);
    say("getid_nokey", rc);
    say("getid_nokey_out_empty", out != NULL && out != (char *)1 && *out == '\0');
    free(out == (char *)1 ? NULL : out);
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, p("inter.crl"), &out);
    say("getid_keyfile_not_key", rc);
    free(out);
    /* A key file replaced, in place and by rename: the next call signs with the new key
     * (ours keeps parsed key files while stat() shows no change). */
    {
        char rot[1024], tmp[1024], *k1 = slurp(spkey), *k2 = slurp(p("notnauth.key"));
        FILE *f;

        snprintf(rot, sizeof(rot), "%s/rot.key", outdir);
        snprintf(tmp, sizeof(tmp), "%s/rot.tmp", outdir);
        spit("rot.key", k1);
        rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, rot, &out);
        say("keyfile_first", SecSIPIDCheckFull(out, rc, 60, sppem, 5));
        free(out);
        usleep(30000); /* past the file system's timestamp granularity */
        if ((f = fopen(rot, "r+")) != NULL) {
            fputs(k2, f);
            fclose(f);
        }
        rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, rot, &out);
        say("keyfile_inplace_old_key", SecSIPIDCheckFull(out, rc, 60, sppem, 5));
        say("keyfile_inplace_new_key", SecSIPIDCheckFull(out, rc, 60, p("notnauth.pem"), 5));
        free(out);
        spit("rot.tmp", k1);
        rename(tmp, rot);
        rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, rot, &out);
        say("keyfile_renamed", SecSIPIDCheckFull(out, rc, 60, sppem, 5));
        free(out);
        free(k1);
        free(k2);
    }
    spit("garbage.key", "not a key\n");
    snprintf(buf, sizeof(buf), "%s/garbage.key", outdir);
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, buf, &out);
    say("getid_garbage_key", rc);
    free(out);
    keydata = slurp(spkey);
    rc = SecSIPIDGetIdentityPrvKey("12025550100", "12025550199", "C", "", x5u, keydata, &out);
    say("getidpk_ok", rc);
    spit("getidpk_ok", out);
    free(out);
    rc = SecSIPIDGetIdentityPrvKey("12025550100", "12025550199", "A", "", x5u, "junk", &out);
    say("getidpk_bad", rc);
    free(out);
    rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", "", spkey, &out);
    say("getid_default_x5u", strstr(out, "info=<https://127.0.0.1/cert.pem>") != NULL);
    free(out);

    h = hdr_json("ES256", "shaken", "passport", x5u);
    pl = payload_json(now);
    rc = SecSIPIDSignJSONHP(h, pl, spkey, &out);
    say("signjson_ok", rc);
    spit("signjson_ok", out);
    free(out);
    rc = SecSIPIDSignJSONHP(h, pl, "/nonexistent", &out);
    say("signjson_nokey", rc);
    free(out);
    rc = SecSIPIDSignJSONHP(h, pl, buf, &out);
    say("signjson_garbage_key", rc);
    free(out);
    if (signpk != NULL) {
        rc = signpk(h, pl, keydata, &out);
        say("signjsonpk_ok", rc);
        spit("signjsonpk_ok", out);
        free(out);
    }
    free(h);
    free(pl);

    /* --- checking with a key file --- */
    id = ident(x5u, spkey, now);
    j = strndup(id, strcspn(id, ";"));
    say("check_jwt_ok", SecSIPIDCheck(j, 0, 60, sppem, 5));
    say("check_jwt_with_params", SecSIPIDCheck(id, 0, 60, sppem, 5));
    say("checkfull_ok", SecSIPIDCheckFull(id, 0, 60, sppem, 5));
    say("checkfull_chainfile", SecSIPIDCheckFull(id, 0, 60, p("sp-chain.pem"), 5));
    snprintf(buf, sizeof(buf), "%s/sp.pub", outdir);
    say("checkfull_bare_pubkey", SecSIPIDCheckFull(id, 0, 60, buf, 5));
    snprintf(url, sizeof(url), "file://%s", sppem);
    say("checkfull_file_url", SecSIPIDCheckFull(id, 0, 60, url, 5));
    len = (int)strlen(id);
    s = malloc((size_t)len + 16);
    memcpy(s, id, (size_t)len);
    memcpy(s + len, "GARBAGE;x=y", 11); /* no NUL right after the value */
    say("checkfull_not_nul_terminated", SecSIPIDCheckFull(s, len, 60, sppem, 5));
    say("checkfull_len_cut", SecSIPIDCheckFull(s, (int)strlen(j) - 10, 60, sppem, 5));
    free(s);
    say("checkfull_spaces", 0);
    snprintf(buf, sizeof(buf), "  %.*s ; info=<%s> ; alg=ES256 ; ppt=\"shaken\"  ", (int)strlen(j),
             j, x5u);
    say("checkfull_spaces_quoted_ppt", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    say("checkfull_missing_key_file", SecSIPIDCheckFull(id, 0, 60, "/nonexistent", 5));
    say("checkfull_wrong_key", SecSIPIDCheckFull(id, 0, 60, p("notnauth.pem"), 5));
    say("checkfull_rsa_cert", SecSIPIDCheckFull(id, 0, 60, p("rsa.pem"), 5));
    say("checkfull_not_pem", SecSIPIDCheckFull(id, 0, 60, p("inter.crl.der"), 5));
    say("checkfull_noparams", SecSIPIDCheckFull(j, 0, 60, sppem, 5));
    snprintf(buf, sizeof(buf), "%s;info=<%s>;alg=ES384;ppt=shaken", j, x5u);
    say("checkfull_param_alg", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    snprintf(buf, sizeof(buf), "%s;info=<%s>;alg=ES256;ppt=div", j, x5u);
    say("checkfull_param_ppt", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    snprintf(buf, sizeof(buf), "%s;alg=ES256;ppt=shaken", j);
    say("checkfull_param_noinfo", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    snprintf(buf, sizeof(buf), "%s;info=<https://other.example/x.pem>;alg=ES256", j);
    say("checkfull_x5u_mismatch", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));

    /* tampering */
    snprintf(buf, sizeof(buf), "%s", id);
    s = strchr(buf, '.') + 5;
    *s = *s == 'A' ? 'B' : 'A';
    say("checkfull_tampered_payload", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    snprintf(buf, sizeof(buf), "%s", id);
    s = strchr(buf, ';') - 5;
    *s = *s == 'A' ? 'B' : 'A';
    say("checkfull_tampered_signature", SecSIPIDCheckFull(buf, 0, 60, sppem, 5));
    say("check_two_parts", SecSIPIDCheck("abc.def", 0, 60, sppem, 5));
    say("check_empty", SecSIPIDCheck("", 0, 60, sppem, 5));
    say("check_null_identity", SecSIPIDCheck(NULL, 0, 60, sppem, 5));
    say("check_empty_payload", SecSIPIDCheck("abc..def", 0, 60, sppem, 5));
    free(id);
    free(j);

    /* freshness and payload */
    struct {
        const char *name;
        long iat_off;
        int expire;
    } fresh[] = {{"checkfull_expired", -3600, 60},
                 {"checkfull_expire_large", -3600, 7200},
                 {"checkfull_future_3600", 3600, 60},
                 {"checkfull_future_10", 10, 60}};
    for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
        id = ident(x5u, spkey, now + fresh[i].iat_off);
        say(fresh[i].name, SecSIPIDCheckFull(id, 0, fresh[i].expire, sppem, 5));
        free(id);
    }
    struct {
        const char *name, *hdr, *payload;
    } bad[] = {
        {"checkfull_iat_missing", NULL, "{\"attest\":\"A\",\"orig\":{\"tn\":\"1\"}}"},
        {"checkfull_iat_string", NULL, "{\"attest\":\"A\",\"iat\":\"1700000000\"}"},
        {"checkfull_iat_real", NULL, "{\"attest\":\"A\",\"iat\":1.5e9}"},
        {"checkfull_payload_bad_json", NULL, "{bad"},
        {"checkfull_payload_array", NULL, "[1,2]"},
        {"checkfull_orig_wrong_type", NULL, "{\"iat\":NOW,\"orig\":\"12025550100\"}"},
        {"checkfull_minimal_payload", NULL, "{\"iat\":NOW}"},
        {"checkfull_hdr_bad_json", "{bad", NULL},
        {"checkfull_hdr_alg", "{\"alg\":\"RS256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}", NULL},
        {"checkfull_hdr_ppt", "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\"}", NULL},
        {"checkfull_hdr_typ", "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"JWT\"}", NULL},
        {"checkfull_hdr_empty_object", "{}", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char pbuf[512], *nowp;
        h = bad[i].hdr ? strdup(bad[i].hdr) : hdr_json("ES256", "shaken", "passport", x5u);
        if (bad[i].payload) {
            snprintf(pbuf, sizeof(pbuf), "%s", bad[i].payload);
            if ((nowp = strstr(pbuf, "NOW")) != NULL) {
                char tail[256];
                snprintf(tail, sizeof(tail), "%s", nowp + 3);
                snprintf(nowp, sizeof(pbuf) - (size_t)(nowp - pbuf), "%ld%s", now, tail);
            }
            pl = strdup(pbuf);
        } else {
            pl = payload_json(now);
        }
        j = jwt(h, pl, spkey);
        id = full(j, params_for(x5u));
        say(bad[i].name, SecSIPIDCheckFull(id, 0, 60, sppem, 5));
        free(h);
        free(pl);
        free(j);
        free(id);
    }

    /* --- checking with the key as data --- */
    id = ident(x5u, spkey, now);
    j = strndup(id, strcspn(id, ";"));
    pubdata = slurp(sppem);
    say("checkpk_ok", SecSIPIDCheckFullPubKey(id, 0, 60, pubdata, 0));
    say("checkpk_noparams", SecSIPIDCheckFullPubKey(j, 0, 60, pubdata, 0));
    len = (int)strlen(pubdata);
    s = malloc((size_t)len + 8);
    memcpy(s, pubdata, (size_t)len);
    memcpy(s + len, "XXXXXXX", 8);
    say("checkpk_key_with_length", SecSIPIDCheckFullPubKey(id, 0, 60, s, len));
    free(s);
    say("checkpk_garbage_key", SecSIPIDCheckFullPubKey(id, 0, 60, "xyz", 0));
    free(pubdata);
    pubdata = slurp(p("rsa.pem"));
    say("checkpk_rsa", SecSIPIDCheckFullPubKey(id, 0, 60, pubdata, 0));
    free(pubdata);
    pubdata = slurp(p("p384.pem"));
    say("checkpk_p384", SecSIPIDCheckFullPubKey(id, 0, 60, pubdata, 0));
    free(pubdata);
    free(j);

    /* --- fetching: info and pubkeyPath URLs --- */
    say("checkfull_url_ok", SecSIPIDCheckFull(id, 0, 60, "", 5));
    j = strndup(id, strcspn(id, ";"));
    say("check_url_pubkeypath", SecSIPIDCheck(j, 0, 60, x5u, 5));
    free(j);
    free(id);
    snprintf(url, sizeof(url), "%s/sp-chain.pem", httpbase);
    id = ident(url, spkey, now);
    say("checkfull_url_http", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    snprintf(url, sizeof(url), "%s/missing.pem", base);
    id = ident(url, spkey, now);
    say("checkfull_url_404", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    id = ident("http://127.0.0.1:1/sp.pem", spkey, now);
    say("checkfull_url_refused", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    id = ident("http://127.0.0.1:1/sp.pem", spkey, now - 3600);
    say("checkfull_url_refused_expired_token", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    id = ident("ftp://127.0.0.1/sp.pem", spkey, now);
    say("checkfull_url_ftp", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);

    out = NULL;
    rc = SecSIPIDGetURLContent(x5u, 5, &out, &len);
    s = slurp(p("sp-chain.pem"));
    say("geturl_ok", rc);
    say("geturl_same_content", rc == 0 && len == (int)strlen(s) && strcmp(out, s) == 0);
    free(s);
    free(out);
    out = (char *)1;
    snprintf(url, sizeof(url), "%s/missing.pem", base);
    say("geturl_404", SecSIPIDGetURLContent(url, 5, &out, &len));
    say("geturl_ftp", SecSIPIDGetURLContent("ftp://127.0.0.1/x", 5, &out, &len));
    say("geturl_refused", SecSIPIDGetURLContent("http://127.0.0.1:1/x", 5, &out, &len));

    /* --- CertVerify, bit by bit --- */
    struct {
        const char *name;
        int cv;
        const char *ca, *inter, *crl, *leaf;
    } cvs[] = {
        {"cv1_ok", 1, "", "", "", "sp"},
        {"cv1_expired", 1, "", "", "", "expired"},
        {"cv1_notyet", 1, "", "", "", "notyet"},
        {"cv2_system_untrusted", 2, "", "", "", "sp"},
        {"cv4_no_ca_file", 4, "", "", "", "sp"},
        {"cv4_unreadable_ca_file", 4, "/nonexistent", "", "", "sp"},
        {"cv4_chain_ok", 4, "root.pem", "", "", "sp-chain"},
        {"cv4_leaf_without_inter", 4, "root.pem", "", "", "sp"},
        {"cv4_selfsigned", 4, "root.pem", "", "", "selfsigned"},
        {"cv4_expired", 4, "root.pem", "", "", "expired-chain"},
        {"cv12_inter_file", 12, "root.pem", "inter.pem", "", "sp"},
        {"cv12_no_inter_file", 12, "root.pem", "", "", "sp"},
        {"cv12_unreadable_inter", 12, "root.pem", "/nonexistent", "", "sp"},
        {"cv20_good", 20, "root.pem", "", "inter.crl", "sp-chain"},
        {"cv20_revoked", 20, "root.pem", "", "inter.crl", "revoked-chain"},
        {"cv20_no_crl_file", 20, "root.pem", "", "", "sp-chain"},
        {"cv20_unreadable_crl", 20, "root.pem", "", "/nonexistent", "sp-chain"},
        {"cv20_der_crl", 20, "root.pem", "", "inter.crl.der", "revoked-chain"},
        {"cv31_all", 31, "root.pem", "inter.pem", "inter.crl", "sp"},
        {"cv1_bare_pubkey", 1, "", "", "", "PUB"},
    };
    for (size_t i = 0; i < sizeof(cvs) / sizeof(cvs[0]); i++) {
        char key[600], pem[600], ca[600], inter[600], crl[600];
        const char *leaf = cvs[i].leaf;
        size_t l = strcspn(leaf, "-");
        snprintf(key, sizeof(key), "%s/%.*s.key", pki, (int)l, leaf);
        if (strcmp(leaf, "PUB") == 0) {
            snprintf(key, sizeof(key), "%s", spkey);
            snprintf(pem, sizeof(pem), "%s/sp.pub", outdir);
        } else {
            snprintf(pem, sizeof(pem), "%s/%s.pem", pki, leaf);
        }
        snprintf(ca, sizeof(ca), "%s%s%s", *cvs[i].ca == '/' || !*cvs[i].ca ? "" : pki,
                 *cvs[i].ca == '/' || !*cvs[i].ca ? "" : "/", cvs[i].ca);
        snprintf(inter, sizeof(inter), "%s%s%s", *cvs[i].inter == '/' || !*cvs[i].inter ? "" : pki,
                 *cvs[i].inter == '/' || !*cvs[i].inter ? "" : "/", cvs[i].inter);
        snprintf(crl, sizeof(crl), "%s%s%s", *cvs[i].crl == '/' || !*cvs[i].crl ? "" : pki,
                 *cvs[i].crl == '/' || !*cvs[i].crl ? "" : "/", cvs[i].crl);
        setcv(cvs[i].cv, ca, inter, crl);
        id = ident(x5u, key, now);
        say(cvs[i].name, SecSIPIDCheckFull(id, 0, 60, pem, 5));
        free(id);
    }
    /* CertVerify on a fetched certificate */
    setcv(20, p("root.pem"), "", p("inter.crl"));
    id = ident(x5u, spkey, now);
    say("cv20_url_good", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    snprintf(url, sizeof(url), "%s/revoked-chain.pem", base);
    id = ident(url, p("revoked.key"), now);
    say("cv20_url_revoked", SecSIPIDCheckFull(id, 0, 60, "", 5));
    free(id);
    setcv(0, "", "", "");

    /* --- the cache directory --- */
    snprintf(buf, sizeof(buf), "%s/cache", outdir);
    mkdir(buf, 0755);
    say("cache_set", SecSIPIDSetFileCacheOptions(buf, 3600));
    snprintf(url, sizeof(url), "%s/cached.pem", base);
    {
        char from[600], to[600];
        snprintf(from, sizeof(from), "%s/sp-chain.pem", pki);
        snprintf(to, sizeof(to), "%s/cached.pem", pki);
        s = slurp(from);
        FILE *f = fopen(to, "w");
        fputs(s, f);
        fclose(f);
        free(s);
        id = ident(url, spkey, now);
        say("cache_first_fetch", SecSIPIDCheckFull(id, 0, 60, "", 5));
        unlink(to); /* the server no longer has it: the cache must answer */
        say("cache_set_again", SecSIPIDSetFileCacheOptions(buf, 3600));
        say("cache_answers", SecSIPIDCheckFull(id, 0, 60, "", 5));
        free(id);
        snprintf(from, sizeof(from), "ls -A %s | grep -q .", buf);
        say("cache_dir_has_files", system(from) == 0);
    }
    say("cache_unset", SecSIPIDSetFileCacheOptions("", 3600));

    /* --- options --- */
    const char *sopts[] = {"CacheDirPath", "CertCAFile", "CertCAInter",
                           "CertCRLFile",  "x5u",        "Unknown"};
    for (size_t i = 0; i < sizeof(sopts) / sizeof(sopts[0]); i++) {
        snprintf(name, sizeof(name), "optS_%s", sopts[i]);
        say(name, SecSIPIDOptSetS((char *)sopts[i], ""));
    }
    const char *nopts[] = {"CacheExpires", "CertVerify", "Unknown"};
    for (size_t i = 0; i < sizeof(nopts) / sizeof(nopts[0]); i++) {
        snprintf(name, sizeof(name), "optN_%s", nopts[i]);
        say(name, SecSIPIDOptSetN((char *)nopts[i], i == 0 ? 3600 : 0));
    }
    const char *vopts[] = {
        "CertVerify=0",  "CacheExpires=3600", "CacheDirPath=", "CertCAFile=",
        "CertCAInter=",  "CertCRLFile=",      "Unknown=1",     "x5u=https://127.0.0.1/cert.pem",
        "CertVerify=abc"};
    for (size_t i = 0; i < sizeof(vopts) / sizeof(vopts[0]); i++) {
        snprintf(name, sizeof(name), "optV_%.*s", (int)strcspn(vopts[i], "="), vopts[i]);
        if (i == 8)
            snprintf(name, sizeof(name), "optV_CertVerify_not_a_number");
        say(name, SecSIPIDOptSetV((char *)vopts[i]));
    }
    SecSIPIDOptSetN("CertVerify", 0);
    if (getn != NULL) {
        int v = -7;
        SecSIPIDOptSetN("CacheExpires", 1234);
        rc = getn("CacheExpires", &v);
        say("optGetN_CacheExpires", rc == 0 ? v : rc);
        say("optGetN_Unknown", getn("Unknown", &v));
    }
    free(keydata);
    return 0;
}

/* Checks what another run signed: the Go library's output with ours and vice versa. */
static int xcheck(const char *indir)
{
    const char *files[] = {"getid_ok", "getidpk_ok", "signjson_ok", "signjsonpk_ok"};
    char path[1024], *id, *jwt, *pub = slurp(sppem);

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", indir, files[i]);
        if (access(path, R_OK) != 0)
            continue;
        id = slurp(path);
        jwt = strndup(id, strcspn(id, ";"));
        printf("x_%s_check %d\n", files[i], SecSIPIDCheck(jwt, 0, 60, sppem, 5));
        free(jwt);
        if (strchr(id, ';') != NULL) {
            printf("x_%s_checkfull %d\n", files[i], SecSIPIDCheckFull(id, 0, 60, sppem, 5));
            printf("x_%s_checkfull_url %d\n", files[i], SecSIPIDCheckFull(id, 0, 60, "", 5));
        }
        printf("x_%s_checkpk %d\n", files[i], SecSIPIDCheckFullPubKey(id, 0, 60, pub, 0));
        free(id);
    }
    free(pub);
    return 0;
}

/* Calls that crash the Go library, one per process. */
static int one(const char *name)
{
    if (strcmp(name, "optV_no_equals") == 0)
        say(name, SecSIPIDOptSetV("CertVerify"));
    else if (strcmp(name, "check_negative_length") == 0)
        say(name, SecSIPIDCheck("a.b.c", -5, 60, "/nonexistent", 5));
    else if (strcmp(name, "checkpk_negative_key_length") == 0)
        say(name, SecSIPIDCheckFullPubKey("a.b.c", 0, 60, "x", -5));
    else
        return 2;
    return 0;
}

/* --- threads and fork --- */

static int sign_and_check(void)
{
    char *out = NULL;
    int rc = SecSIPIDGetIdentity("12025550100", "12025550199", "A", "", x5u, spkey, &out);

    if (rc <= 0) {
        free(out);
        return -1000 + rc;
    }
    rc = SecSIPIDCheckFull(out, rc, 60, sppem, 5);
    free(out);
    return rc;
}

static int nthreads_iter = 200;

static void *worker(void *arg)
{
    long bad = 0;
    for (int i = 0; i < nthreads_iter; i++)
        if (sign_and_check() != 0)
            bad++;
    return (void *)bad;
}

static int threads(int n)
{
    pthread_t t[64];
    long bad = 0;
    void *r;

    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    if (bad != 0) {
        printf("threads FAIL %ld of %d calls\n", bad, n * nthreads_iter);
        return 1;
    }
    printf("threads ok %d threads x %d sign+check\n", n, nthreads_iter);
    return 0;
}

static int forked(void)
{
    int before = sign_and_check(), child_rc, status;
    pid_t pid;

    /* a fetch before the fork, so that the verifier's thread exists in the parent */
    char *id = ident(x5u, spkey, (long)time(NULL));
    int url_before = SecSIPIDCheckFull(id, 0, 60, "", 5);

    if ((pid = fork()) == 0) {
        int c1 = sign_and_check();
        int c2 = SecSIPIDCheckFull(id, 0, 60, "", 5);
        _exit(c1 == 0 && c2 == 0 ? 0 : 1);
    }
    child_rc = sign_and_check();
    int url_after = SecSIPIDCheckFull(id, 0, 60, "", 5);
    waitpid(pid, &status, 0);
    free(id);
    if (before == 0 && url_before == 0 && child_rc == 0 && url_after == 0 && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0) {
        printf("fork ok\n");
        return 0;
    }
    printf("fork FAIL before=%d url_before=%d parent=%d url_after=%d child_status=%d\n", before,
           url_before, child_rc, url_after, status);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "one") == 0 && argc == 3)
        return one(argv[2]);
    if (argc < 3)
        return 2;
    pki = argv[2];
    snprintf(spkey, sizeof(spkey), "%s/sp.key", pki);
    snprintf(sppem, sizeof(sppem), "%s/sp.pem", pki);
    base = getenv("BASE") ? getenv("BASE") : "https://127.0.0.1:1";
    snprintf(x5u, sizeof(x5u), "%s/sp-chain.pem", base);
    if (strcmp(argv[1], "calls") == 0 && argc == 6) {
        base = argv[3];
        snprintf(x5u, sizeof(x5u), "%s/sp-chain.pem", base);
        httpbase = argv[4];
        outdir = argv[5];
        return calls();
    }
    if (strcmp(argv[1], "xcheck") == 0 && argc == 4)
        return xcheck(argv[3]);
    if (strcmp(argv[1], "threads") == 0 && argc == 4) {
        char *end;
        long n = strtol(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0' || n < 1 || n > 64)
            return 2;
        return threads((int)n);
    }
    if (strcmp(argv[1], "fork") == 0)
        return forked();
    return 2;
}

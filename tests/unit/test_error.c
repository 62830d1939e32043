/*
 * test_error.c - the error table (SW_ERR_MAP): names, texts, classes, SIP statuses and
 * reasons, verstat values, the RFC 9410 Reason header, and per-context error detail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stirwire.h"
#include "sw_int.h"

/* The table as the header states it, so that each row can be checked against the library. */
struct row {
    sw_err err;
    const char *name;
    sw_class cls;
    int status;
    const char *reason;
    const char *verstat;
    const char *text;
};

static const struct row rows[] = {
#define ROW(name, num, cls, status, reason, verstat, text)                                         \
    {SW_ERR_##name, #name, SW_CLASS_##cls, status, reason, verstat, text},
    SW_ERR_MAP(ROW)
#undef ROW
};

#define NROWS (sizeof rows / sizeof rows[0])

static void every_error_has_its_name(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        assert_string_equal(sw_err_name(rows[i].err), rows[i].name);
}

static void every_error_has_its_text(void **state)
{
    for (size_t i = 0; i < NROWS; i++) {
        assert_non_null(sw_strerror(rows[i].err));
        assert_true(sw_strerror(rows[i].err)[0] != '\0');
        assert_string_equal(sw_strerror(rows[i].err), rows[i].text);
    }
}

static void every_error_has_its_class(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        assert_int_equal(sw_err_class(rows[i].err), rows[i].cls);
}

static void every_error_has_its_sip_status_and_reason(void **state)
{
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(sw_err_sip_status(rows[i].err), rows[i].status);
        assert_string_equal(sw_err_sip_reason(rows[i].err), rows[i].reason);
    }
}

static void every_error_has_its_verstat(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        assert_string_equal(sw_err_verstat(rows[i].err), rows[i].verstat);
}

static void error_names_are_unique(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        for (size_t j = i + 1; j < NROWS; j++) {
            assert_int_not_equal(rows[i].err, rows[j].err);
            assert_string_not_equal(sw_err_name(rows[i].err), sw_err_name(rows[j].err));
        }
}

static void sip_statuses_follow_rfc8224_and_atis(void **state)
{
    assert_int_equal(sw_err_sip_status(SW_ERR_STALE), 403);
    assert_string_equal(sw_err_sip_reason(SW_ERR_STALE), "Stale Date");
    assert_int_equal(sw_err_sip_status(SW_ERR_FUTURE), 403);
    assert_int_equal(sw_err_sip_status(SW_ERR_SIGNATURE), 438);
    assert_string_equal(sw_err_sip_reason(SW_ERR_SIGNATURE), "Invalid Identity Header");
    assert_int_equal(sw_err_sip_status(SW_ERR_X5U_MISMATCH), 436);
    assert_string_equal(sw_err_sip_reason(SW_ERR_X5U_MISMATCH), "Bad Identity Info");
    assert_int_equal(sw_err_sip_status(SW_ERR_ALG), 437);
    assert_string_equal(sw_err_sip_reason(SW_ERR_ALG), "Unsupported Credential");
    assert_int_equal(sw_err_sip_status(SW_ERR_IDENTITY_MISSING), 428);
    assert_string_equal(sw_err_sip_reason(SW_ERR_IDENTITY_MISSING), "Use Identity Header");
    assert_int_equal(sw_err_sip_status(SW_ERR_INVAL), 0);
}

static void verstat_values_follow_atis_1000074(void **state)
{
    assert_string_equal(sw_err_verstat(SW_OK), "TN-Validation-Passed");
    assert_string_equal(sw_err_verstat(SW_ERR_SIGNATURE), "TN-Validation-Failed");
    assert_string_equal(sw_err_verstat(SW_ERR_STALE), "TN-Validation-Failed");
    assert_string_equal(sw_err_verstat(SW_ERR_IDENTITY_MISSING), "No-TN-Validation");
    assert_string_equal(sw_err_verstat(SW_ERR_NOMEM), "No-TN-Validation");
}

static void unknown_error_is_named_unknown(void **state)
{
    assert_string_equal(sw_err_name((sw_err)9999), "UNKNOWN");
    assert_string_equal(sw_err_name((sw_err)8), "UNKNOWN"); /* a gap in the numbering */
    assert_string_equal(sw_err_name((sw_err)-1), "UNKNOWN");
}

static void unknown_error_text_is_not_null(void **state)
{
    assert_non_null(sw_strerror((sw_err)9999));
    assert_non_null(sw_err_sip_reason((sw_err)9999));
    assert_non_null(sw_err_verstat((sw_err)9999));
}

static void every_class_has_a_text(void **state)
{
#define CLS(name, num, text) assert_string_equal(sw_class_text(SW_CLASS_##name), text);
    SW_CLASS_MAP(CLS)
#undef CLS
}

static void reason_header_for_signature_is_exact(void **state)
{
    char buf[128];
    size_t n = sw_err_reason_header(SW_ERR_SIGNATURE, buf, sizeof buf);
    assert_string_equal(buf, "STIR;cause=438;text=\"signature does not verify\"");
    assert_int_equal(n, strlen(buf));
}

static void reason_header_for_stale_uses_403(void **state)
{
    char buf[128];
    sw_err_reason_header(SW_ERR_STALE, buf, sizeof buf);
    assert_string_equal(buf, "STIR;cause=403;text=\"PASSporT iat is older than the maximum age\"");
}

static void reason_header_truncates_like_snprintf(void **state)
{
    const char *full = "STIR;cause=438;text=\"signature does not verify\"";
    char buf[10];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(sw_err_reason_header(SW_ERR_SIGNATURE, buf, sizeof buf), strlen(full));
    assert_string_equal(buf, "STIR;caus");
}

static void reason_header_measures_with_null_buffer(void **state)
{
    const char *full = "STIR;cause=438;text=\"signature does not verify\"";
    assert_int_equal(sw_err_reason_header(SW_ERR_SIGNATURE, NULL, 0), strlen(full));
}

static void reason_header_is_empty_without_sip_status(void **state)
{
    char buf[64] = "junk";
    assert_int_equal(sw_err_reason_header(SW_ERR_INVAL, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void fail_records_detail_and_returns_error(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    assert_non_null(ctx);
    assert_int_equal(swi_fail(ctx, SW_ERR_STALE, "iat %d is %s", 5, "old"), SW_ERR_STALE);
    assert_string_equal(sw_errmsg(ctx), "iat 5 is old");
    sw_ctx_free(ctx);
}

static void fail_truncates_long_detail(void **state)
{
    char big[2000];
    sw_ctx *ctx = sw_ctx_new();
    assert_non_null(ctx);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(swi_fail(ctx, SW_ERR_JSON, "%s", big), SW_ERR_JSON);
    assert_true(strlen(sw_errmsg(ctx)) < sizeof big - 1);
    assert_true(strlen(sw_errmsg(ctx)) > 0);
    sw_ctx_free(ctx);
}

static void new_context_has_empty_errmsg(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    assert_non_null(ctx);
    assert_string_equal(sw_errmsg(ctx), "");
    sw_ctx_free(ctx);
}

static void free_functions_accept_null(void **state)
{
    sw_ctx_free(NULL);
    sw_key_free(NULL);
    sw_pubkey_free(NULL);
    sw_passport_free(NULL);
    sw_identity_free(NULL);
    sw_free(NULL);
    assert_true(1); /* reaching here without a crash is the behaviour */
}

static void version_is_the_package_version(void **state)
{
    assert_string_equal(sw_version(), "0.1.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_error_has_its_name),
        cmocka_unit_test(every_error_has_its_text),
        cmocka_unit_test(every_error_has_its_class),
        cmocka_unit_test(every_error_has_its_sip_status_and_reason),
        cmocka_unit_test(every_error_has_its_verstat),
        cmocka_unit_test(error_names_are_unique),
        cmocka_unit_test(sip_statuses_follow_rfc8224_and_atis),
        cmocka_unit_test(verstat_values_follow_atis_1000074),
        cmocka_unit_test(unknown_error_is_named_unknown),
        cmocka_unit_test(unknown_error_text_is_not_null),
        cmocka_unit_test(every_class_has_a_text),
        cmocka_unit_test(reason_header_for_signature_is_exact),
        cmocka_unit_test(reason_header_for_stale_uses_403),
        cmocka_unit_test(reason_header_truncates_like_snprintf),
        cmocka_unit_test(reason_header_measures_with_null_buffer),
        cmocka_unit_test(reason_header_is_empty_without_sip_status),
        cmocka_unit_test(fail_records_detail_and_returns_error),
        cmocka_unit_test(fail_truncates_long_detail),
        cmocka_unit_test(new_context_has_empty_errmsg),
        cmocka_unit_test(free_functions_accept_null),
        cmocka_unit_test(version_is_the_package_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_b64.c - base64url without padding (RFC 7515 section 2): RFC 4648 vectors in the url
 * alphabet, round trips of every length 0..70, and what the strict decoder must refuse.
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

static void check_vector(const char *plain, const char *enc)
{
    char out[64];
    unsigned char dec[64];
    size_t n = strlen(plain), declen = 0;

    assert_int_equal(swi_b64url_encoded_len(n), strlen(enc));
    assert_int_equal(swi_b64url_encode((const unsigned char *)plain, n, out), strlen(enc));
    assert_string_equal(out, enc);
    assert_int_equal(swi_b64url_decode(enc, strlen(enc), dec, &declen), 0);
    assert_int_equal(declen, n);
    assert_memory_equal(dec, plain, n);
}

static void rejects(const char *enc)
{
    unsigned char dec[64];
    size_t declen = 0;
    assert_int_equal(swi_b64url_decode(enc, strlen(enc), dec, &declen), -1);
}

static void encodes_rfc4648_vectors_without_padding(void **state)
{
    check_vector("", "");
    check_vector("f", "Zg");
    check_vector("fo", "Zm8");
    check_vector("foo", "Zm9v");
    check_vector("foob", "Zm9vYg");
    check_vector("fooba", "Zm9vYmE");
    check_vector("foobar", "Zm9vYmFy");
}

static void uses_url_alphabet_for_62_and_63(void **state)
{
    /* 0xfb 0xff 0xbf is "+/+/" in the standard alphabet. */
    const unsigned char in[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    char out[16];
    unsigned char dec[16];
    size_t declen = 0;

    swi_b64url_encode(in, sizeof in, out);
    assert_string_equal(out, "-_-_-_8");
    assert_int_equal(swi_b64url_decode(out, strlen(out), dec, &declen), 0);
    assert_int_equal(declen, sizeof in);
    assert_memory_equal(dec, in, sizeof in);
}

static void encoded_len_has_no_padding(void **state)
{
    assert_int_equal(swi_b64url_encoded_len(0), 0);
    assert_int_equal(swi_b64url_encoded_len(1), 2);
    assert_int_equal(swi_b64url_encoded_len(2), 3);
    assert_int_equal(swi_b64url_encoded_len(3), 4);
    assert_int_equal(swi_b64url_encoded_len(4), 6);
    assert_int_equal(swi_b64url_encoded_len(64), 86);
}

static void round_trips_every_length_to_70(void **state)
{
    unsigned char in[70], dec[70 + 1];
    char enc[100];
    uint32_t seed = 12345; /* a fixed LCG keeps a failure reproducible */

    for (size_t n = 0; n <= 70; n++) {
        size_t declen = 999;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (unsigned char)(seed >> 16);
        }
        size_t elen = swi_b64url_encode(in, n, enc);
        assert_int_equal(elen, swi_b64url_encoded_len(n));
        assert_int_equal(strlen(enc), elen);
        assert_null(strpbrk(enc, "+/="));
        assert_int_equal(swi_b64url_decode(enc, elen, dec, &declen), 0);
        assert_int_equal(declen, n);
        assert_memory_equal(dec, in, n);
    }
}

static void decodes_only_the_given_length(void **state)
{
    unsigned char dec[16];
    size_t declen = 0;
    assert_int_equal(swi_b64url_decode("Zm9v.rest", 4, dec, &declen), 0);
    assert_int_equal(declen, 3);
    assert_memory_equal(dec, "foo", 3);
}

static void rejects_padding(void **state)
{
    rejects("Zg==");
    rejects("Zm8=");
}

static void rejects_standard_alphabet_plus(void **state)
{
    rejects("+/+/");
    rejects("Zm+v");
}

static void rejects_standard_alphabet_slash(void **state)
{
    rejects("Zm/v");
}

static void rejects_whitespace(void **state)
{
    rejects("Zm9v Yg");
    rejects("Zm9v\nYmFy");
    rejects(" Zm9v");
    rejects("Zm9v\t");
}

static void rejects_other_characters(void **state)
{
    rejects("Zm9*");
    rejects("Zm9.");
}

static void rejects_length_one_mod_four(void **state)
{
    rejects("Z");
    rejects("Zm9vY");
}

static void rejects_nonzero_trailing_bits(void **state)
{
    rejects("Zh");  /* "Zg" is f; 'h' sets a bit past the byte */
    rejects("Zm9"); /* "Zm8" is fo */
}

static void rejects_embedded_nul(void **state)
{
    unsigned char dec[16];
    size_t declen = 0;
    assert_int_equal(swi_b64url_decode("Zm\0v", 4, dec, &declen), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_rfc4648_vectors_without_padding),
        cmocka_unit_test(uses_url_alphabet_for_62_and_63),
        cmocka_unit_test(encoded_len_has_no_padding),
        cmocka_unit_test(round_trips_every_length_to_70),
        cmocka_unit_test(decodes_only_the_given_length),
        cmocka_unit_test(rejects_padding),
        cmocka_unit_test(rejects_standard_alphabet_plus),
        cmocka_unit_test(rejects_standard_alphabet_slash),
        cmocka_unit_test(rejects_whitespace),
        cmocka_unit_test(rejects_other_characters),
        cmocka_unit_test(rejects_length_one_mod_four),
        cmocka_unit_test(rejects_nonzero_trailing_bits),
        cmocka_unit_test(rejects_embedded_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

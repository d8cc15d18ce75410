/* qcow2 LUKS encryption (qemu's encrypt.format=luks): LUKS1 header, aes-xts-plain64, via mbedTLS. */
#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include "qcow2_int.h"

#define LUKS_HDR_LEN     592
#define LUKS_SLOTS       8
#define LUKS_SLOT_ON     0x00ac71f3u
#define LUKS_SLOT_OFF    0x0000deadu
#define LUKS_STRIPES     4000
#define LUKS_DIGEST_LEN  20
#define LUKS_SALT_LEN    32

static const uint8_t luks_magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };

struct qc_luks {
    mbedtls_aes_xts_context enc, dec;
};

static const mbedtls_md_info_t *hash_by_name(const char *name)
{
    if (!strcmp(name, "sha256"))
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!strcmp(name, "sha1"))
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    if (!strcmp(name, "sha512"))
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA512);
    return NULL;
}

static int pbkdf2(const mbedtls_md_info_t *md, const void *pw, size_t pwlen, const uint8_t *salt,
                  size_t saltlen, uint32_t iter, uint8_t *out, size_t outlen)
{
    mbedtls_md_context_t ctx;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* A fuzzed header asks for up to 2^32 iterations: minutes per input. */
    if (iter > 64)
        iter = 64;
#endif
    mbedtls_md_init(&ctx);
    int r = mbedtls_md_setup(&ctx, md, 1);
    if (r == 0)
        r = mbedtls_pkcs5_pbkdf2_hmac(&ctx, pw, pwlen, salt, saltlen, iter, (uint32_t)outlen, out);
    mbedtls_md_free(&ctx);
    return r ? -EIO : 0;
}

/* AF diffusion: each digest-sized block j becomes H(be32(j) || block). */
static int diffuse(const mbedtls_md_info_t *md, uint8_t *d, size_t len)
{
    size_t ds = mbedtls_md_get_size(md);
    uint8_t out[64], iv[4];
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    int r = mbedtls_md_setup(&ctx, md, 0);
    for (size_t j = 0; r == 0 && j * ds < len; j++) {
        size_t n = len - j * ds < ds ? len - j * ds : ds;
        put_be32(iv, (uint32_t)j);
        if ((r = mbedtls_md_starts(&ctx)) || (r = mbedtls_md_update(&ctx, iv, 4)) ||
            (r = mbedtls_md_update(&ctx, d + j * ds, n)) || (r = mbedtls_md_finish(&ctx, out)))
            break;
        memcpy(d + j * ds, out, n);
    }
    mbedtls_md_free(&ctx);
    return r ? -EIO : 0;
}

static void xor_into(uint8_t *d, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] ^= s[i];
}

/* aes-xts-plain64 over 512-byte sectors starting at sector. */
static int xts(mbedtls_aes_xts_context *ctx, int mode, uint64_t sector, uint8_t *buf, size_t len)
{
    for (size_t o = 0; o < len; o += 512, sector++) {
        uint8_t iv[16] = { 0 };
        for (int i = 0; i < 8; i++)
            iv[i] = (uint8_t)(sector >> (8 * i));
        if (mbedtls_aes_crypt_xts(ctx, mode, 512, iv, buf + o, buf + o))
            return -EIO;
    }
    return 0;
}

int qc_luks_crypt(struct qcow2 *s, bool enc, uint64_t sector, uint8_t *buf, size_t len)
{
    if (!s->luks || (len & 511))
        return -EINVAL;
    return xts(enc ? &s->luks->enc : &s->luks->dec, enc ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT,
               sector, buf, len);
}

void qc_luks_free(struct qcow2 *s)
{
    if (!s->luks)
        return;
    mbedtls_aes_xts_free(&s->luks->enc);
    mbedtls_aes_xts_free(&s->luks->dec);
    free(s->luks);
    s->luks = NULL;
}

static void field(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = 0;
}

int qc_luks_open(struct qcow2 *s, const char *secret, char *err)
{
    uint8_t h[LUKS_HDR_LEN];
    char cipher[33], mode[33], hash[33];
    int r;

    if (s->crypt_hdr_len < LUKS_HDR_LEN) {
        qc_err(err, "LUKS header region too small (%llu bytes)", (unsigned long long)s->crypt_hdr_len);
        return -EINVAL;
    }
    if ((r = qc_pread(s, h, sizeof h, s->crypt_hdr_off)) < 0)
        return r;
    if (memcmp(h, luks_magic, 6) || be16(h + 6) != 1) {
        qc_err(err, "bad LUKS header magic or version (LUKS1 only)");
        return -EINVAL;
    }
    field(cipher, h + 8, 32);
    field(mode, h + 40, 32);
    field(hash, h + 72, 32);
    uint32_t key_bytes = be32(h + 108), mk_iter = be32(h + 164);
    const mbedtls_md_info_t *md = hash_by_name(hash);
    if (strcmp(cipher, "aes") || strcmp(mode, "xts-plain64") || !md ||
        (key_bytes != 32 && key_bytes != 64)) {
        qc_err(err, "unsupported LUKS cipher %s-%s/%s with %u-byte key (only aes-xts-plain64)",
               cipher, mode, hash, key_bytes);
        return -ENOTSUP;
    }
    if (!secret) {
        qc_err(err, "image is encrypted: a passphrase is needed");
        return -EACCES;
    }
    if (mk_iter == 0) {
        qc_err(err, "LUKS master key digest iteration count is 0");
        return -EINVAL;
    }
    uint8_t mk[64], slotkey[64], digest[LUKS_DIGEST_LEN];
    uint8_t *mat = NULL;
    bool found = false, any = false;
    r = 0;
    for (int i = 0; i < LUKS_SLOTS && !found && r == 0; i++) {
        const uint8_t *sl = h + 208 + 48 * i;
        if (be32(sl) != LUKS_SLOT_ON)
            continue;
        uint32_t iter = be32(sl + 4), koff = be32(sl + 40), stripes = be32(sl + 44);
        uint64_t mlen = (uint64_t)key_bytes * stripes, alen = (mlen + 511) & ~511ull;
        if (!stripes || stripes > LUKS_STRIPES || !iter || (uint64_t)koff * 512 > s->crypt_hdr_len ||
            alen > s->crypt_hdr_len - (uint64_t)koff * 512) {
            qc_err(err, "LUKS key slot %d is malformed (stripes %u, offset %u sectors)", i, stripes, koff);
            r = -EINVAL;
            break;
        }
        any = true;
        free(mat);
        if (!(mat = malloc(alen))) {
            r = -ENOMEM;
            break;
        }
        if ((r = pbkdf2(md, secret, strlen(secret), sl + 8, LUKS_SALT_LEN, iter, slotkey, key_bytes)) < 0 ||
            (r = qc_pread(s, mat, alen, s->crypt_hdr_off + (uint64_t)koff * 512)) < 0)
            break;
        mbedtls_aes_xts_context kx;
        mbedtls_aes_xts_init(&kx);
        if (mbedtls_aes_xts_setkey_dec(&kx, slotkey, key_bytes * 8) || xts(&kx, MBEDTLS_AES_DECRYPT, 0, mat, alen)) {
            mbedtls_aes_xts_free(&kx);
            r = -EIO;
            break;
        }
        mbedtls_aes_xts_free(&kx);
        /* AF merge. */
        memset(mk, 0, sizeof mk);
        for (uint32_t k = 0; k + 1 < stripes; k++) {
            xor_into(mk, mat + (uint64_t)k * key_bytes, key_bytes);
            if ((r = diffuse(md, mk, key_bytes)) < 0)
                break;
        }
        if (r < 0)
            break;
        xor_into(mk, mat + (uint64_t)(stripes - 1) * key_bytes, key_bytes);
        if ((r = pbkdf2(md, mk, key_bytes, h + 132, LUKS_SALT_LEN, mk_iter, digest, LUKS_DIGEST_LEN)) < 0)
            break;
        found = memcmp(digest, h + 112, LUKS_DIGEST_LEN) == 0;
    }
    free(mat);
    memset(slotkey, 0, sizeof slotkey);
    if (r < 0)
        return r;
    if (!found) {
        memset(mk, 0, sizeof mk);
        qc_err(err, "%s", any ? "the passphrase matches no LUKS key slot" : "no active LUKS key slot");
        return -EACCES;
    }
    struct qc_luks *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    mbedtls_aes_xts_init(&l->enc);
    mbedtls_aes_xts_init(&l->dec);
    if (mbedtls_aes_xts_setkey_enc(&l->enc, mk, key_bytes * 8) ||
        mbedtls_aes_xts_setkey_dec(&l->dec, mk, key_bytes * 8)) {
        memset(mk, 0, sizeof mk);
        s->luks = l;
        qc_luks_free(s);
        return -EIO;
    }
    memset(mk, 0, sizeof mk);
    s->luks = l;
    return 0;
}

static int entropy_cb(void *data, unsigned char *out, size_t len, size_t *olen)
{
    (void)data;
    if (img_get_entropy(out, len) < 0)
        return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    *olen = len;
    return 0;
}

int qc_luks_create(const char *secret, uint64_t iter_ms, uint8_t **hdr_out, uint64_t *len_out,
                   uint64_t *used_out, char *err)
{
    const uint32_t key_bytes = 64, stripes = LUKS_STRIPES;
    const uint32_t mat_sectors = ((key_bytes * stripes + 511) / 512 + 7) & ~7u;
    const uint32_t first = (LUKS_HDR_LEN / 512 + 1 + 7) & ~7u;     /* 4 KiB */
    const uint32_t payload = first + LUKS_SLOTS * mat_sectors;
    /* Only the header and slot 0's material are non-zero: the buffer holds
     * those (about 260 KiB, not the 2 MiB region: the unikernel's heap is
     * small); the caller leaves the rest of the region zero. */
    const uint32_t used = first + mat_sectors;
    uint32_t iter = iter_ms ? (uint32_t)(iter_ms * 100 > 1000 ? iter_ms * 100 : 1000) : 100000;
    uint32_t mk_iter = iter / 8 > 1000 ? iter / 8 : 1000;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    uint8_t mk[64], slotkey[64], rnd[16];
    uint8_t *h = calloc(used, 512);
    int r = -EIO;

    if (!h)
        return -ENOMEM;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    /* The embedder's entropy source (img_set_entropy), where it gave one:
     * the only one in the unikernel, whose mbedTLS has no platform source. */
    if (img_have_entropy() &&
        mbedtls_entropy_add_source(&ent, entropy_cb, NULL, 32, MBEDTLS_ENTROPY_SOURCE_STRONG)) {
        qc_err(err, "cannot add the entropy source for LUKS");
        goto out;
    }
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const uint8_t *)"keel-qcow2-luks", 15)) {
        qc_err(err, "cannot seed the random number generator for LUKS");
        goto out;
    }
    memcpy(h, luks_magic, 6);
    put_be16(h + 6, 1);
    memcpy(h + 8, "aes", 3);
    memcpy(h + 40, "xts-plain64", 11);
    memcpy(h + 72, "sha256", 6);
    put_be32(h + 104, payload);
    put_be32(h + 108, key_bytes);
    if (mbedtls_ctr_drbg_random(&drbg, mk, key_bytes) ||
        mbedtls_ctr_drbg_random(&drbg, h + 132, LUKS_SALT_LEN) ||
        mbedtls_ctr_drbg_random(&drbg, rnd, sizeof rnd))
        goto out;
    put_be32(h + 164, mk_iter);
    if ((r = pbkdf2(md, mk, key_bytes, h + 132, LUKS_SALT_LEN, mk_iter, h + 112, LUKS_DIGEST_LEN)) < 0)
        goto out;
    rnd[6] = (rnd[6] & 0x0f) | 0x40;
    rnd[8] = (rnd[8] & 0x3f) | 0x80;
    snprintf((char *)h + 168, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
             rnd[10], rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
    for (int i = 0; i < LUKS_SLOTS; i++) {
        uint8_t *sl = h + 208 + 48 * i;
        put_be32(sl, i == 0 ? LUKS_SLOT_ON : LUKS_SLOT_OFF);
        put_be32(sl + 40, first + i * mat_sectors);
        put_be32(sl + 44, stripes);
    }
    /* Slot 0: the AF-split master key, encrypted with the passphrase's key. */
    uint8_t *sl = h + 208, *mat = h + (uint64_t)first * 512;
    put_be32(sl + 4, iter);
    r = -EIO;
    if (mbedtls_ctr_drbg_random(&drbg, sl + 8, LUKS_SALT_LEN))
        goto out;
    uint8_t d[64] = { 0 };
    for (uint32_t k = 0; k + 1 < stripes; k++) {
        uint8_t *blk = mat + (uint64_t)k * key_bytes;
        if (mbedtls_ctr_drbg_random(&drbg, blk, key_bytes))
            goto out;
        xor_into(d, blk, key_bytes);
        if ((r = diffuse(md, d, key_bytes)) < 0)
            goto out;
    }
    for (uint32_t i = 0; i < key_bytes; i++)
        mat[(uint64_t)(stripes - 1) * key_bytes + i] = d[i] ^ mk[i];
    if ((r = pbkdf2(md, secret, strlen(secret), sl + 8, LUKS_SALT_LEN, iter, slotkey, key_bytes)) < 0)
        goto out;
    mbedtls_aes_xts_context kx;
    mbedtls_aes_xts_init(&kx);
    r = mbedtls_aes_xts_setkey_enc(&kx, slotkey, key_bytes * 8) ? -EIO :
        xts(&kx, MBEDTLS_AES_ENCRYPT, 0, mat, (uint64_t)mat_sectors * 512);
    mbedtls_aes_xts_free(&kx);
    if (r < 0)
        goto out;
    *hdr_out = h;
    *len_out = (uint64_t)payload * 512;
    *used_out = (uint64_t)used * 512;
    h = NULL;
    r = 0;
out:
    memset(mk, 0, sizeof mk);
    memset(slotkey, 0, sizeof slotkey);
    free(h);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
    if (r < 0 && err && !err[0])
        qc_err(err, "cannot create the LUKS header (error %d)", r);
    return r;
}

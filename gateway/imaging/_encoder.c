/*
 * Streaming row codecs for the gateway's image encoder.
 *
 * A Codec takes raw SANE rows (any byte count per feed call, rows may be
 * split across calls) and returns the encoded bytes that are ready.  It
 * produces only the part of a file that depends on the pixels:
 *
 *   png   zlib stream split into IDAT chunks, then IEND
 *   jpeg  a complete JPEG file (libjpeg writes its own headers)
 *   dib   BMP pixel rows, top-down, each padded to 4 bytes
 *   raw   packed rows as TIFF stores them uncompressed
 *   g4    CCITT T.6 (Group 4 fax) coded lineart, ended by EOFB
 *
 * File headers that only need the image size (PNG IHDR, BMP and TIFF
 * headers) are built in Python, which lets the height be supplied after
 * the last row when the scanner did not know it in advance.
 *
 * A raw row may be wider than the image: the image then starts x_offset
 * pixels into it (cropping).  The codecs read the image's pixels in place;
 * only lineart that starts inside a byte is shifted, into one row buffer.
 *
 * All work on pixels runs without the GIL.  Memory is bounded by a few
 * rows plus the codec state plus the output of a single feed call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <zlib.h>

#define IDAT_SIZE 65536
#define JPEG_BUF_SIZE 65536
#define OUT_KEEP_LIMIT (1 << 20)
#define JPEG_MAX_DIM 65500
#define MAX_ROW_BYTES (1 << 30) /* keeps every row within zlib's 32-bit counts */

enum kind { K_PNG, K_JPEG, K_DIB, K_RAW, K_G4, K_COUNT };
enum state { S_OPEN, S_FINISHED, S_FAILED, S_CLOSED };

static PyObject *EncoderError;

typedef struct {
    unsigned char *data;
    size_t len, cap;
} Buf;

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
} JpegErr;

typedef struct {
    PyObject_HEAD
    int kind, state, busy, close_pending;
    int width, channels, depth;
    long long height; /* -1: not known, the caller writes the header later */
    long long rows;
    Py_ssize_t in_bpl, packed, out_rb;
    Py_ssize_t in_skip; /* bytes of each raw row before the image */
    int in_shift;       /* and bits, for lineart that starts inside a byte */
    unsigned char *shifted;

    unsigned char *partial; /* a row split across feed calls */
    Py_ssize_t partial_len;
    unsigned char *conv; /* one converted output row */
    Buf out;
    int err_nomem;
    char errmsg[JMSG_LENGTH_MAX + 96];

    /* png */
    z_stream z;
    int z_live, bpp;
    unsigned char *cur, *prev, *fsub, *fup, *idat;

    /* jpeg */
    struct jpeg_compress_struct cinfo;
    JpegErr jerr;
    struct jpeg_destination_mgr dest;
    int j_live;
    unsigned char *jbuf;

    /* g4: colour changes of the coding and the reference row */
    int32_t *g4_cur, *g4_ref;
    uint32_t g4_acc;
    int g4_bits;
} Codec;

/* ---------------------------------------------------------------- output */

static int
buf_reserve(Buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t need = b->len + n, cap = b->cap ? b->cap : 65536;
        unsigned char *p;
        if (need < b->len)
            return -1;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) {
                cap = need;
                break;
            }
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    return 0;
}

static int
buf_put(Buf *b, const void *src, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static int
fail(Codec *c, const char *msg)
{
    snprintf(c->errmsg, sizeof c->errmsg, "%s", msg);
    return -1;
}

static int
fail_nomem(Codec *c)
{
    c->err_nomem = 1;
    return fail(c, "out of memory");
}

static int
put(Codec *c, const void *src, size_t n)
{
    return buf_put(&c->out, src, n) < 0 ? fail_nomem(c) : 0;
}

static void
be32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* ------------------------------------------------------------------- png */

static int
png_chunk(Codec *c, const char *type, const unsigned char *data, uint32_t n)
{
    unsigned char head[8], tail[4];
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (n)
        crc = crc32(crc, data, n);
    be32(head, n);
    memcpy(head + 4, type, 4);
    be32(tail, (uint32_t)crc);
    if (put(c, head, 8) < 0 || (n && put(c, data, n) < 0) || put(c, tail, 4) < 0)
        return -1;
    return 0;
}

/* Pushes input through deflate; a full output buffer becomes one IDAT. */
static int
png_deflate(Codec *c, const unsigned char *src, size_t n, int flush)
{
    int rc;
    c->z.next_in = (Bytef *)src;
    c->z.avail_in = (uInt)n;
    for (;;) {
        rc = deflate(&c->z, flush);
        if (rc == Z_STREAM_ERROR)
            return fail(c, "zlib: deflate failed");
        if (c->z.avail_out == 0) {
            if (png_chunk(c, "IDAT", c->idat, IDAT_SIZE) < 0)
                return -1;
            c->z.next_out = c->idat;
            c->z.avail_out = IDAT_SIZE;
            continue;
        }
        if (flush == Z_FINISH ? rc == Z_STREAM_END : c->z.avail_in == 0)
            return 0;
    }
}

static void
png_convert(Codec *c, const unsigned char *in, unsigned char *o)
{
    Py_ssize_t i, n = c->packed;
    if (c->depth == 1) {
        /* SANE lineart: 1 = black; PNG grey: 0 = black. */
        for (i = 0; i < n; i++)
            o[i] = (unsigned char)~in[i];
        if (c->width % 8)
            o[n - 1] &= (unsigned char)(0xFF << (8 - c->width % 8));
    }
    else if (c->depth == 16 && PY_LITTLE_ENDIAN) {
        for (i = 0; i + 1 < n; i += 2) {
            o[i] = in[i + 1];
            o[i + 1] = in[i];
        }
    }
    else {
        memcpy(o, in, n);
    }
}

/*
 * Filters a row with None, Sub and Up and deflates the one whose bytes,
 * read as signed, have the smallest sum of magnitudes.
 */
static int
png_row(Codec *c, const unsigned char *in)
{
    unsigned char *cur = c->cur + 1, *prev = c->prev + 1;
    unsigned char *fs = c->fsub + 1, *fu = c->fup + 1, *best, *tmp;
    Py_ssize_t i, n = c->packed, bpp = c->bpp;
    unsigned long s_none = 0, s_sub = 0, s_up = 0;

    png_convert(c, in, cur);
    for (i = 0; i < n; i++) {
        unsigned char v = cur[i];
        unsigned char a = i >= bpp ? cur[i - bpp] : 0;
        unsigned char s = (unsigned char)(v - a), u = (unsigned char)(v - prev[i]);
        fs[i] = s;
        fu[i] = u;
        s_none += v < 128 ? v : 256 - v;
        s_sub += s < 128 ? s : 256 - s;
        s_up += u < 128 ? u : 256 - u;
    }
    best = c->cur;
    if (s_sub < s_none && s_sub <= s_up)
        best = c->fsub;
    else if (s_up < s_none && s_up < s_sub)
        best = c->fup;
    if (png_deflate(c, best, (size_t)n + 1, Z_NO_FLUSH) < 0)
        return -1;
    tmp = c->prev;
    c->prev = c->cur;
    c->cur = tmp;
    return 0;
}

static int
png_finish(Codec *c)
{
    Py_ssize_t left;
    if (png_deflate(c, NULL, 0, Z_FINISH) < 0)
        return -1;
    left = IDAT_SIZE - c->z.avail_out;
    if (left && png_chunk(c, "IDAT", c->idat, (uint32_t)left) < 0)
        return -1;
    return png_chunk(c, "IEND", NULL, 0);
}

static int
png_setup(Codec *c, int level)
{
    size_t n = (size_t)c->packed + 1;
    c->bpp = c->depth == 1 ? 1 : c->channels * c->depth / 8;
    c->cur = calloc(n, 1);
    c->prev = calloc(n, 1);
    c->fsub = malloc(n);
    c->fup = malloc(n);
    c->idat = malloc(IDAT_SIZE);
    if (!c->cur || !c->prev || !c->fsub || !c->fup || !c->idat)
        return fail_nomem(c);
    c->fsub[0] = 1;
    c->fup[0] = 2;
    memset(&c->z, 0, sizeof c->z);
    switch (deflateInit2(&c->z, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY)) {
    case Z_OK:
        break;
    case Z_MEM_ERROR:
        return fail_nomem(c);
    default:
        return fail(c, "zlib: cannot initialise deflate");
    }
    c->z_live = 1;
    c->z.next_out = c->idat;
    c->z.avail_out = IDAT_SIZE;
    return 0;
}

/* ------------------------------------------------------------------ jpeg */

static void
jpeg_fail_exit(j_common_ptr cinfo)
{
    Codec *c = cinfo->client_data;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    snprintf(c->errmsg, sizeof c->errmsg, "libjpeg: %s", msg);
    if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY)
        c->err_nomem = 1;
    longjmp(((JpegErr *)cinfo->err)->jump, 1);
}

static void
jpeg_quiet(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void
jdest_init(j_compress_ptr cinfo)
{
    Codec *c = cinfo->client_data;
    c->dest.next_output_byte = c->jbuf;
    c->dest.free_in_buffer = JPEG_BUF_SIZE;
}

static boolean
jdest_empty(j_compress_ptr cinfo)
{
    Codec *c = cinfo->client_data;
    if (buf_put(&c->out, c->jbuf, JPEG_BUF_SIZE) < 0)
        ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
    jdest_init(cinfo);
    return TRUE;
}

/* Also used between feeds, so that compressed bytes leave as soon as made. */
static void
jdest_term(j_compress_ptr cinfo)
{
    Codec *c = cinfo->client_data;
    size_t n = JPEG_BUF_SIZE - c->dest.free_in_buffer;
    if (n && buf_put(&c->out, c->jbuf, n) < 0)
        ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
    jdest_init(cinfo);
}

static int
jpeg_setup(Codec *c, int quality, const unsigned char *app1, Py_ssize_t app1_len,
           int dpi_x, int dpi_y)
{
    j_compress_ptr ci = &c->cinfo;
    c->jbuf = malloc(JPEG_BUF_SIZE);
    if (!c->jbuf)
        return fail_nomem(c);
    ci->err = jpeg_std_error(&c->jerr.pub);
    c->jerr.pub.error_exit = jpeg_fail_exit;
    c->jerr.pub.output_message = jpeg_quiet;
    c->j_live = 1;
    if (setjmp(c->jerr.jump))
        return -1;
    jpeg_create_compress(ci);
    ci->client_data = c;
    c->dest.init_destination = jdest_init;
    c->dest.empty_output_buffer = jdest_empty;
    c->dest.term_destination = jdest_term;
    ci->dest = &c->dest;
    ci->image_width = (JDIMENSION)c->width;
    ci->image_height = (JDIMENSION)c->height;
    ci->input_components = c->channels;
    ci->in_color_space = c->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(ci);
    jpeg_set_quality(ci, quality, TRUE);
    ci->density_unit = 1;
    ci->X_density = (UINT16)dpi_x;
    ci->Y_density = (UINT16)dpi_y;
    if (app1)
        ci->write_JFIF_header = FALSE;
    jpeg_start_compress(ci, TRUE);
    if (app1)
        jpeg_write_marker(ci, JPEG_APP0 + 1, app1, (unsigned int)app1_len);
    return 0;
}

static void
jpeg_row(Codec *c, const unsigned char *in)
{
    JSAMPROW row = c->conv;
    Py_ssize_t i, n = (Py_ssize_t)c->width * c->channels;
    if (c->depth == 8) {
        row = (JSAMPROW)in; /* libjpeg only reads input rows */
    }
    else if (c->depth == 16) {
        const unsigned char *hi = in + (PY_LITTLE_ENDIAN ? 1 : 0);
        for (i = 0; i < n; i++)
            row[i] = hi[2 * i];
    }
    else {
        for (i = 0; i < n; i++)
            row[i] = (in[i >> 3] & (0x80 >> (i & 7))) ? 0 : 255;
    }
    jpeg_write_scanlines(&c->cinfo, &row, 1);
}

/* ---------------------------------------------------------------- dib/raw */

static void
dib_row(Codec *c, const unsigned char *in)
{
    unsigned char *o = c->conv;
    Py_ssize_t i, n = c->width;
    if (c->depth == 1) {
        memcpy(o, in, c->packed);
        if (c->width % 8)
            o[c->packed - 1] &= (unsigned char)(0xFF << (8 - c->width % 8));
    }
    else {
        int step = c->depth / 8, hi = (c->depth == 16 && PY_LITTLE_ENDIAN) ? 1 : 0;
        if (c->channels == 1) {
            for (i = 0; i < n; i++)
                o[i] = in[i * step + hi];
        }
        else {
            for (i = 0; i < n; i++) {
                const unsigned char *p = in + 3 * i * step + hi;
                o[3 * i] = p[2 * step];
                o[3 * i + 1] = p[step];
                o[3 * i + 2] = p[0];
            }
        }
    }
}

static void
raw_row(Codec *c, const unsigned char *in)
{
    memcpy(c->conv, in, c->packed);
    if (c->depth == 1 && c->width % 8)
        c->conv[c->packed - 1] &= (unsigned char)(0xFF << (8 - c->width % 8));
}


/* -------------------------------------------------------------------- g4 */

/*
 * Code words of ITU-T T.4 tables 2 and 3 (run lengths) and 4 (2-D modes),
 * written as in the standard and turned into numbers at import.
 */
static const char *const g4_white_term[64] = {
    "00110101", "000111", "0111", "1000", "1011", "1100", "1110", "1111",
    "10011", "10100", "00111", "01000", "001000", "000011", "110100", "110101",
    "101010", "101011", "0100111", "0001100", "0001000", "0010111", "0000011", "0000100",
    "0101000", "0101011", "0010011", "0100100", "0011000", "00000010", "00000011", "00011010",
    "00011011", "00010010", "00010011", "00010100", "00010101", "00010110", "00010111", "00101000",
    "00101001", "00101010", "00101011", "00101100", "00101101", "00000100", "00000101", "00001010",
    "00001011", "01010010", "01010011", "01010100", "01010101", "00100100", "00100101", "01011000",
    "01011001", "01011010", "01011011", "01001010", "01001011", "00110010", "00110011", "00110100"};
static const char *const g4_black_term[64] = {
    "0000110111", "010", "11", "10", "011", "0011", "0010", "00011",
    "000101", "000100", "0000100", "0000101", "0000111", "00000100", "00000111", "000011000",
    "0000010111", "0000011000", "0000001000", "00001100111", "00001101000", "00001101100",
    "00000110111", "00000101000", "00000010111", "00000011000", "000011001010", "000011001011",
    "000011001100", "000011001101", "000001101000", "000001101001", "000001101010",
    "000001101011", "000011010010", "000011010011", "000011010100", "000011010101",
    "000011010110", "000011010111", "000001101100", "000001101101", "000011011010",
    "000011011011", "000001010100", "000001010101", "000001010110", "000001010111",
    "000001100100", "000001100101", "000001010010", "000001010011", "000000100100",
    "000000110111", "000000111000", "000000100111", "000000101000", "000001011000",
    "000001011001", "000000101011", "000000101100", "000001011010", "000001100110",
    "000001100111"};
/* Make-up codes for 64, 128, ... 1728 */
static const char *const g4_white_makeup[27] = {
    "11011", "10010", "010111", "0110111", "00110110", "00110111", "01100100", "01100101",
    "01101000", "01100111", "011001100", "011001101", "011010010", "011010011", "011010100",
    "011010101", "011010110", "011010111", "011011000", "011011001", "011011010", "011011011",
    "010011000", "010011001", "010011010", "011000", "010011011"};
static const char *const g4_black_makeup[27] = {
    "0000001111", "000011001000", "000011001001", "000001011011", "000000110011",
    "000000110100", "000000110101", "0000001101100", "0000001101101", "0000001001010",
    "0000001001011", "0000001001100", "0000001001101", "0000001110010", "0000001110011",
    "0000001110100", "0000001110101", "0000001110110", "0000001110111", "0000001010010",
    "0000001010011", "0000001010100", "0000001010101", "0000001011010", "0000001011011",
    "0000001100100", "0000001100101"};
/* Make-up codes for 1792, 1856, ... 2560, common to both colours */
static const char *const g4_ext_makeup[13] = {
    "00000001000", "00000001100", "00000001101", "000000010010", "000000010011",
    "000000010100", "000000010101", "000000010110", "000000010111", "000000011100",
    "000000011101", "000000011110", "000000011111"};
/* Vertical mode, a1 - b1 = -3 .. 3 */
static const char *const g4_vertical[7] = {
    "0000010", "000010", "010", "1", "011", "000011", "0000011"};
#define G4_PASS "0001"
#define G4_HORIZONTAL "001"
#define G4_EOL "000000000001"

typedef struct {
    uint16_t code;
    uint8_t len;
} BitCode;

static BitCode g4_term[2][64], g4_makeup[2][27], g4_ext[13], g4_vert[7];
static BitCode g4_pass, g4_horiz, g4_eol;

static BitCode
bitcode(const char *bits)
{
    BitCode b = {0, 0};
    for (; *bits; bits++, b.len++)
        b.code = (uint16_t)((b.code << 1) | (*bits == '1'));
    return b;
}

static void
g4_tables_init(void)
{
    int i;
    for (i = 0; i < 64; i++) {
        g4_term[0][i] = bitcode(g4_white_term[i]);
        g4_term[1][i] = bitcode(g4_black_term[i]);
    }
    for (i = 0; i < 27; i++) {
        g4_makeup[0][i] = bitcode(g4_white_makeup[i]);
        g4_makeup[1][i] = bitcode(g4_black_makeup[i]);
    }
    for (i = 0; i < 13; i++)
        g4_ext[i] = bitcode(g4_ext_makeup[i]);
    for (i = 0; i < 7; i++)
        g4_vert[i] = bitcode(g4_vertical[i]);
    g4_pass = bitcode(G4_PASS);
    g4_horiz = bitcode(G4_HORIZONTAL);
    g4_eol = bitcode(G4_EOL);
}

/* Room for a row is reserved beforehand, so bits go out unchecked. */
static void
g4_put(Codec *c, BitCode b)
{
    c->g4_acc = (c->g4_acc << b.len) | b.code;
    c->g4_bits += b.len;
    while (c->g4_bits >= 8) {
        c->g4_bits -= 8;
        c->out.data[c->out.len++] = (unsigned char)(c->g4_acc >> c->g4_bits);
    }
}

static void
g4_run(Codec *c, int32_t run, int black)
{
    while (run > 2560) {
        g4_put(c, g4_ext[12]);
        run -= 2560;
    }
    if (run >= 64) {
        int m = run / 64;
        g4_put(c, m <= 27 ? g4_makeup[black][m - 1] : g4_ext[m - 28]);
        run -= m * 64;
    }
    g4_put(c, g4_term[black][run]);
}

/* Positions where the colour changes, the row starting white; then sentinels. */
static void
g4_changes(Codec *c, const unsigned char *row, int32_t *t)
{
    int32_t x = 0, n = 0, width = c->width;
    int colour = 0;
    while (x < width) {
        unsigned char byte = row[x >> 3];
        if ((x & 7) == 0 && x + 8 <= width && byte == (colour ? 0xFF : 0x00)) {
            x += 8;
            continue;
        }
        if (((byte >> (7 - (x & 7))) & 1) != colour) {
            colour ^= 1;
            t[n++] = x;
        }
        x++;
    }
    t[n] = t[n + 1] = t[n + 2] = width;
}

/*
 * Two-dimensional coding of one row against the previous one (T.4 4.2.1.3,
 * without EOLs as T.6 requires).  a0 starts on an imaginary white pixel left
 * of the row; element j of a change list is a change to black when j is even.
 */
static int
g4_row(Codec *c, const unsigned char *in)
{
    int32_t *cur = c->g4_cur, *ref = c->g4_ref, *tmp;
    int32_t a0 = -1, a1, a2, b1, b2, width = c->width;
    int32_t ia = 0, ib = 0, jb;
    int colour = 0;

    if (buf_reserve(&c->out, (size_t)width * 2 + 64) < 0)
        return fail_nomem(c);
    g4_changes(c, in, cur);
    for (;;) {
        while (cur[ia] <= a0)
            ia++;
        a1 = cur[ia];
        while (ref[ib] <= a0)
            ib++;
        jb = ib + ((ib & 1) != colour);
        b1 = ref[jb];
        b2 = ref[jb + 1];
        if (b2 < a1) {
            g4_put(c, g4_pass);
            a0 = b2;
        }
        else if (a1 - b1 >= -3 && a1 - b1 <= 3) {
            g4_put(c, g4_vert[a1 - b1 + 3]);
            a0 = a1;
            colour ^= 1;
        }
        else {
            a2 = cur[ia + 1];
            g4_put(c, g4_horiz);
            g4_run(c, a1 - (a0 < 0 ? 0 : a0), colour);
            g4_run(c, a2 - a1, !colour);
            a0 = a2;
        }
        if (a0 >= width)
            break;
    }
    tmp = c->g4_ref;
    c->g4_ref = c->g4_cur;
    c->g4_cur = tmp;
    return 0;
}

static int
g4_finish(Codec *c)
{
    if (buf_reserve(&c->out, 8) < 0)
        return fail_nomem(c);
    g4_put(c, g4_eol);
    g4_put(c, g4_eol);
    if (c->g4_bits) {
        BitCode pad = {0, (uint8_t)(8 - c->g4_bits)};
        g4_put(c, pad);
    }
    return 0;
}

static int
g4_setup(Codec *c)
{
    size_t n = (size_t)c->width + 3;
    c->g4_cur = malloc(n * sizeof(int32_t));
    c->g4_ref = malloc(n * sizeof(int32_t));
    if (!c->g4_cur || !c->g4_ref)
        return fail_nomem(c);
    c->g4_ref[0] = c->g4_ref[1] = c->g4_ref[2] = c->width; /* all-white row above */
    return 0;
}

/* ------------------------------------------------------------ row driver */

/* The image's pixels within a raw row: in place, or shifted to start a byte. */
static const unsigned char *
crop_row(Codec *c, const unsigned char *row)
{
    const unsigned char *p = row + c->in_skip;
    Py_ssize_t i, left = c->in_bpl - c->in_skip;
    int s = c->in_shift;
    if (!s)
        return p;
    for (i = 0; i < c->packed; i++) {
        unsigned int v = (unsigned int)p[i] << s;
        if (i + 1 < left)
            v |= p[i + 1] >> (8 - s);
        c->shifted[i] = (unsigned char)v;
    }
    return c->shifted;
}

static int
emit_row(Codec *c, const unsigned char *raw)
{
    const unsigned char *row = crop_row(c, raw);
    switch (c->kind) {
    case K_PNG:
        return png_row(c, row);
    case K_JPEG:
        jpeg_row(c, row);
        return 0;
    case K_DIB:
        dib_row(c, row);
        return put(c, c->conv, c->out_rb);
    case K_G4:
        return g4_row(c, row);
    default:
        raw_row(c, row);
        return put(c, c->conv, c->out_rb);
    }
}

#define JPEG_BATCH 64

/*
 * 8-bit rows that lie whole in the input go to libjpeg as one batch of row
 * pointers, which saves a call per row.  Returns the bytes consumed.
 */
static Py_ssize_t
jpeg_batch(Codec *c, const unsigned char *p, Py_ssize_t n)
{
    JSAMPROW rows[JPEG_BATCH];
    JDIMENSION k = 0, done = 0;
    while (k < JPEG_BATCH && n - (Py_ssize_t)k * c->in_bpl >= c->in_bpl &&
           c->rows + k < c->height) {
        rows[k] = (JSAMPROW)(p + (Py_ssize_t)k * c->in_bpl + c->in_skip);
        k++;
    }
    while (done < k) {
        JDIMENSION got = jpeg_write_scanlines(&c->cinfo, rows + done, k - done);
        if (got == 0)
            return fail(c, "libjpeg took no rows");
        done += got;
    }
    c->rows += k;
    return (Py_ssize_t)k * c->in_bpl;
}

static int
feed_rows(Codec *c, const unsigned char *p, Py_ssize_t n)
{
    while (n > 0) {
        const unsigned char *row;
        if (c->height >= 0 && c->rows >= c->height)
            return fail(c, "more image data than the declared height");
        if (c->kind == K_JPEG && c->depth == 8 && c->partial_len == 0 && n >= c->in_bpl) {
            Py_ssize_t used = jpeg_batch(c, p, n);
            if (used < 0)
                return -1;
            p += used;
            n -= used;
            continue;
        }
        if (c->partial_len == 0 && n >= c->in_bpl) {
            row = p;
            p += c->in_bpl;
            n -= c->in_bpl;
        }
        else {
            Py_ssize_t take = c->in_bpl - c->partial_len;
            if (take > n)
                take = n;
            memcpy(c->partial + c->partial_len, p, take);
            c->partial_len += take;
            p += take;
            n -= take;
            if (c->partial_len < c->in_bpl)
                break;
            c->partial_len = 0;
            row = c->partial;
        }
        if (emit_row(c, row) < 0)
            return -1;
        c->rows++;
    }
    if (c->kind == K_JPEG)
        jdest_term(&c->cinfo);
    return 0;
}

/* libjpeg reports errors by longjmp, which lands here. */
static int
feed_guarded(Codec *c, const unsigned char *p, Py_ssize_t n)
{
    if (c->kind == K_JPEG && setjmp(c->jerr.jump))
        return -1;
    return feed_rows(c, p, n);
}

static int
finish_guarded(Codec *c)
{
    switch (c->kind) {
    case K_PNG:
        return png_finish(c);
    case K_JPEG:
        if (setjmp(c->jerr.jump))
            return -1;
        jpeg_finish_compress(&c->cinfo);
        return 0;
    case K_G4:
        return g4_finish(c);
    default:
        return 0;
    }
}

/* ------------------------------------------------------------ lifecycle */

static void
release(Codec *c)
{
    if (c->z_live) {
        deflateEnd(&c->z);
        c->z_live = 0;
    }
    if (c->j_live) {
        jpeg_destroy_compress(&c->cinfo);
        c->j_live = 0;
    }
    free(c->partial);
    free(c->shifted);
    c->shifted = NULL;
    free(c->conv);
    free(c->out.data);
    free(c->cur);
    free(c->prev);
    free(c->fsub);
    free(c->fup);
    free(c->idat);
    free(c->jbuf);
    free(c->g4_cur);
    free(c->g4_ref);
    c->g4_cur = c->g4_ref = NULL;
    c->partial = c->conv = c->out.data = NULL;
    c->cur = c->prev = c->fsub = c->fup = c->idat = c->jbuf = NULL;
    c->out.len = c->out.cap = 0;
}

static PyObject *
raise_failure(Codec *c)
{
    release(c);
    c->state = S_FAILED;
    if (c->err_nomem)
        return PyErr_NoMemory();
    PyErr_SetString(EncoderError, c->errmsg);
    return NULL;
}

static int
check_usable(Codec *c)
{
    static const char *why[] = {
        NULL, "encoder already finished", "encoder failed earlier", "encoder is closed"};
    if (c->busy) {
        PyErr_SetString(EncoderError, "encoder is in use by another thread");
        return -1;
    }
    if (c->state != S_OPEN) {
        PyErr_SetString(EncoderError, why[c->state]);
        return -1;
    }
    return 0;
}

/* Hands the pending output to Python and empties the buffer. */
static PyObject *
take_output(Codec *c)
{
    PyObject *r = PyBytes_FromStringAndSize((const char *)c->out.data, (Py_ssize_t)c->out.len);
    if (!r) {
        release(c);
        c->state = S_FAILED;
        return NULL;
    }
    c->out.len = 0;
    if (c->out.cap > OUT_KEEP_LIMIT) {
        free(c->out.data);
        c->out.data = NULL;
        c->out.cap = 0;
    }
    return r;
}

static const char *kind_names[K_COUNT] = {"png", "jpeg", "dib", "raw", "g4"};

static PyObject *
Codec_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"kind", "width", "height", "bytes_per_line", "channels", "depth",
                             "dpi_x", "dpi_y", "quality", "level", "app1", "x_offset", NULL};
    const char *kname;
    int width, channels, depth, dpi_x = 0, dpi_y = 0, quality = 85, level = 1, kind = -1, i;
    int x_offset = 0;
    long long height;
    Py_ssize_t bpl;
    Py_buffer app1;
    Codec *c;
    int rc = 0;

    memset(&app1, 0, sizeof app1);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "siLnii|iiiiy*i:Codec", kwlist, &kname, &width,
                                     &height, &bpl, &channels, &depth, &dpi_x, &dpi_y,
                                     &quality, &level, &app1, &x_offset))
        return NULL;
    for (i = 0; i < K_COUNT; i++)
        if (strcmp(kname, kind_names[i]) == 0)
            kind = i;
    if (kind < 0) {
        PyErr_Format(PyExc_ValueError, "unknown codec %s", kname);
        goto bad;
    }
    if (width <= 0 || height < -1 || (channels != 1 && channels != 3) ||
        (depth != 1 && depth != 8 && depth != 16) || (depth == 1 && channels != 1)) {
        PyErr_SetString(PyExc_ValueError, "bad raster layout");
        goto bad;
    }
    if (x_offset < 0) {
        PyErr_SetString(PyExc_ValueError, "x_offset must not be negative");
        goto bad;
    }
    if (bpl < (((long long)x_offset + width) * channels * depth + 7) / 8) {
        PyErr_SetString(PyExc_ValueError, "bytes_per_line is smaller than one row");
        goto bad;
    }
    if (bpl > MAX_ROW_BYTES) {
        PyErr_SetString(EncoderError, "rows longer than 1 GiB are not supported");
        goto bad;
    }
    if (kind == K_JPEG) {
        if (height <= 0 || height > JPEG_MAX_DIM || width > JPEG_MAX_DIM) {
            PyErr_SetString(EncoderError, "JPEG needs a known height; both sides at most 65500");
            goto bad;
        }
        if (quality < 1 || quality > 100 || dpi_x < 0 || dpi_x > 65535 || dpi_y < 0 ||
            dpi_y > 65535 || (app1.buf && app1.len > 65533)) {
            PyErr_SetString(PyExc_ValueError, "bad JPEG parameter");
            goto bad;
        }
    }
    if (kind == K_G4 && depth != 1) {
        PyErr_SetString(EncoderError, "G4 codes lineart (1 bit per pixel) only");
        goto bad;
    }
    if (kind == K_PNG && (level < 0 || level > 9)) {
        PyErr_SetString(PyExc_ValueError, "zlib level must be 0..9");
        goto bad;
    }

    c = (Codec *)((allocfunc)PyType_GetSlot(type, Py_tp_alloc))(type, 0);
    if (!c)
        goto bad;
    c->kind = kind;
    c->width = width;
    c->height = height;
    c->channels = channels;
    c->depth = depth;
    c->in_bpl = bpl;
    c->packed = ((Py_ssize_t)width * channels * depth + 7) / 8;
    c->in_skip = (Py_ssize_t)x_offset * channels * depth / 8;
    c->in_shift = depth == 1 ? x_offset % 8 : 0;
    switch (kind) {
    case K_DIB:
        c->out_rb = (((Py_ssize_t)width * channels * (depth == 1 ? 1 : 8) + 31) / 32) * 4;
        break;
    case K_JPEG:
        c->out_rb = (Py_ssize_t)width * channels;
        break;
    default:
        c->out_rb = c->packed;
    }
    c->partial = malloc(bpl);
    c->conv = calloc(c->out_rb, 1);
    if (c->in_shift)
        c->shifted = malloc(c->packed);
    if (!c->partial || !c->conv || (c->in_shift && !c->shifted))
        rc = fail_nomem(c);
    else if (kind == K_PNG)
        rc = png_setup(c, level);
    else if (kind == K_G4)
        rc = g4_setup(c);
    else if (kind == K_JPEG)
        rc = jpeg_setup(c, quality, app1.buf, app1.buf ? app1.len : 0, dpi_x, dpi_y);
    if (app1.buf)
        PyBuffer_Release(&app1);
    if (rc < 0) {
        raise_failure(c);
        Py_DECREF(c);
        return NULL;
    }
    return (PyObject *)c;
bad:
    if (app1.buf)
        PyBuffer_Release(&app1);
    return NULL;
}

/* A heap type: each instance holds a reference to it (see PyType_FromSpec). */
static void
Codec_dealloc(Codec *c)
{
    PyTypeObject *type = Py_TYPE((PyObject *)c);
    release(c);
    ((freefunc)PyType_GetSlot(type, Py_tp_free))(c);
    Py_DECREF(type);
}

static PyObject *
Codec_feed(Codec *c, PyObject *arg)
{
    Py_buffer view;
    int rc;
    if (check_usable(c) < 0)
        return NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    c->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = feed_guarded(c, view.buf, view.len);
    Py_END_ALLOW_THREADS
    c->busy = 0;
    PyBuffer_Release(&view);
    if (c->close_pending) {
        release(c);
        c->state = S_CLOSED;
        PyErr_SetString(EncoderError, "encoder was closed during feed");
        return NULL;
    }
    if (rc < 0)
        return raise_failure(c);
    return take_output(c);
}

static PyObject *
Codec_finish(Codec *c, PyObject *unused)
{
    int rc;
    char msg[160];
    (void)unused;
    if (check_usable(c) < 0)
        return NULL;
    if (c->partial_len) {
        snprintf(msg, sizeof msg, "last row incomplete: %zd of %zd bytes", c->partial_len,
                 c->in_bpl);
        fail(c, msg);
        return raise_failure(c);
    }
    if (c->rows < (c->height < 0 ? 1 : c->height)) {
        snprintf(msg, sizeof msg, "image ended after %lld of %lld rows", c->rows,
                 c->height < 0 ? 1 : c->height);
        fail(c, msg);
        return raise_failure(c);
    }
    c->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = finish_guarded(c);
    Py_END_ALLOW_THREADS
    c->busy = 0;
    if (rc < 0 || c->close_pending) {
        if (c->close_pending)
            fail(c, "encoder was closed during finish");
        return raise_failure(c);
    }
    {
        PyObject *r = take_output(c);
        if (r) {
            release(c);
            c->state = S_FINISHED;
        }
        return r;
    }
}

static PyObject *
Codec_close(Codec *c, PyObject *unused)
{
    (void)unused;
    if (c->busy) {
        c->close_pending = 1;
    }
    else {
        release(c);
        if (c->state == S_OPEN)
            c->state = S_CLOSED;
    }
    Py_RETURN_NONE;
}

static PyObject *
Codec_get_rows(Codec *c, void *unused)
{
    (void)unused;
    return PyLong_FromLongLong(c->rows);
}

static PyObject *
Codec_get_out_rb(Codec *c, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(c->out_rb);
}

static PyMethodDef Codec_methods[] = {
    {"feed", (PyCFunction)Codec_feed, METH_O,
     "feed(data) -> bytes: take raw bytes, return the encoded bytes ready now."},
    {"finish", (PyCFunction)Codec_finish, METH_NOARGS,
     "finish() -> bytes: flush everything; fails if rows are missing."},
    {"close", (PyCFunction)Codec_close, METH_NOARGS,
     "close(): free all codec memory; idempotent."},
    {NULL},
};

static PyGetSetDef Codec_getset[] = {
    {"rows", (getter)Codec_get_rows, NULL, "complete rows taken so far", NULL},
    {"output_row_bytes", (getter)Codec_get_out_rb, NULL, "bytes per converted row", NULL},
    {NULL},
};

/* Built with PyType_FromSpec: the stable ABI (Py_LIMITED_API) has no static
 * type objects, and the module then loads in every Python 3 from 3.11 on. */
static PyType_Slot Codec_slots[] = {
    {Py_tp_doc, "Codec(kind, width, height, bytes_per_line, channels, depth, dpi_x=0, dpi_y=0, "
                "quality=85, level=1, app1=None, x_offset=0): streaming row codec; height -1 = not "
                "known; the image starts x_offset pixels into each raw row."},
    {Py_tp_new, Codec_new},
    {Py_tp_dealloc, Codec_dealloc},
    {Py_tp_methods, Codec_methods},
    {Py_tp_getset, Codec_getset},
    {0, NULL},
};

static PyType_Spec Codec_spec = {
    .name = "gateway.imaging._encoder.Codec",
    .basicsize = sizeof(Codec),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Codec_slots,
};

static struct PyModuleDef encoder_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gateway.imaging._encoder",
    .m_doc = "Streaming PNG/JPEG/BMP/raw row codecs (see gateway.imaging).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__encoder(void)
{
    PyObject *m, *codec_type;
    g4_tables_init();
    m = PyModule_Create(&encoder_module);
    if (!m)
        return NULL;
    codec_type = PyType_FromSpec(&Codec_spec);
    if (!codec_type) {
        Py_DECREF(m);
        return NULL;
    }
    EncoderError = PyErr_NewExceptionWithDoc(
        "gateway.imaging.EncoderError",
        "The image cannot be encoded as asked, or the data fed does not fit the raster.",
        PyExc_Exception, NULL);
    if (!EncoderError || PyModule_AddObjectRef(m, "EncoderError", EncoderError) < 0 ||
        PyModule_AddObjectRef(m, "Codec", codec_type) < 0) {
        Py_CLEAR(EncoderError);
        Py_DECREF(codec_type);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(codec_type);
    return m;
}

/* mozjpeg workload: encode a generated 400x300 RGB image with mozjpeg's defaults (progressive,
   trellis quantisation, optimised Huffman tables) at quality 80 and at quality 95 with
   4:4:4 sampling, decode both back; prints sizes, digests of the JPEG bytes and pixels, PSNR. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "jpeglib.h"
#include "../common.h"

enum { W = 400, H = 300 };

static unsigned char *encode(const unsigned char *rgb, int quality, int h_samp, unsigned long *size) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  unsigned char *out = NULL;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &out, size);
  c.image_width = W; c.image_height = H; c.input_components = 3; c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  c.comp_info[0].h_samp_factor = h_samp; c.comp_info[0].v_samp_factor = h_samp;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < H) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * W * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  return out;
}

static void decode_and_report(const char *name, const unsigned char *rgb, unsigned char *jpg, unsigned long size) {
  struct jpeg_decompress_struct d;
  struct jpeg_error_mgr e;
  d.err = jpeg_std_error(&e);
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, jpg, size);
  jpeg_read_header(&d, TRUE);
  jpeg_start_decompress(&d);
  unsigned char *back = malloc((size_t)W * H * 3);
  while (d.output_scanline < d.output_height) {
    JSAMPROW row = back + (size_t)d.output_scanline * W * 3;
    jpeg_read_scanlines(&d, &row, 1);
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  double se = 0;
  for (size_t i = 0; i < (size_t)W * H * 3; i++) { double x = (double)rgb[i] - back[i]; se += x * x; }
  double psnr = 10 * log10(255.0 * 255.0 / (se / ((double)W * H * 3)));
  printf("%-8s %7lu bytes jpeg %016llx pixels %016llx psnr %.3f dB\n", name, size,
         (unsigned long long)fnv1a(FNV_INIT, jpg, size),
         (unsigned long long)fnv1a(FNV_INIT, back, (size_t)W * H * 3), psnr);
  free(back);
}

int main(void) {
  unsigned char *rgb = malloc((size_t)W * H * 3);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {   /* gradients, rings, a checker patch and some noise */
      unsigned char *p = rgb + ((size_t)y * W + x) * 3;
      int dx = x - W / 2, dy = y - H / 2, r2 = dx * dx + dy * dy;
      int ring = (r2 / 300) & 1 ? 60 : 0;
      int checker = (x > 250 && y > 180 && ((x / 8 + y / 8) & 1)) ? 90 : 0;
      int noise = rnd() % 24;
      p[0] = (unsigned char)((x * 255 / W + ring + noise) & 255);
      p[1] = (unsigned char)((y * 255 / H + checker + noise / 2) & 255);
      p[2] = (unsigned char)(((x + y) * 255 / (W + H) + ring / 2 + checker) & 255);
    }
  unsigned long s1 = 0, s2 = 0;
  unsigned char *j1 = encode(rgb, 80, 2, &s1);
  decode_and_report("q80-420", rgb, j1, s1);
  unsigned char *j2 = encode(rgb, 95, 1, &s2);
  decode_and_report("q95-444", rgb, j2, s2);
  return 0;
}

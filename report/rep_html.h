/* rep_html.h - what the HTML report's page (rep_html.c) and its ladder diagrams
 * (rep_html_ladder.c) share. Private to those two files. */
#ifndef SYNSCOPE_REP_HTML_H
#define SYNSCOPE_REP_HTML_H

#include "rep_int.h"

/* One colour per verdict, in enum order. */
extern const char *const rep_html_colour[REP_VERDICT_COUNT];

/* Writes s with the five HTML special characters escaped: safe in text and in attributes. */
void rep_html_escape(FILE *out, const char *s);

/* Roughly how wide text is in pixels at a font size (proportional sans-serif). */
double rep_html_text_width(const char *text, double font_px);

/* An SVG <text> element; when the text would be wider than max_px (when max_px > 0) it is
 * squeezed to fit (textLength), so labels never run into their neighbours. */
void rep_svg_text(FILE *out, double x, double y, const char *anchor, const char *attrs,
                  double font_px, double max_px, const char *text);

/* One listed attempt: a heading line, its ladder diagram, and a caption with the judgement
 * (rep_html_ladder.c). */
void rep_html_attempt(FILE *out, const struct rep_listed *item, int64_t syn_timeout_ns);

#endif

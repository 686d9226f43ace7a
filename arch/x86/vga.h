/*
 * vga.h - the VGA text screen, 80x25 at 0xB8000 (arch/x86/vga.c).
 */
#ifndef ARCH_X86_VGA_H
#define ARCH_X86_VGA_H

#include <stddef.h>
#include <stdint.h>

enum vga_color {
    VGA_BLACK = 0,
    VGA_BLUE = 1,
    VGA_GREEN = 2,
    VGA_CYAN = 3,
    VGA_RED = 4,
    VGA_MAGENTA = 5,
    VGA_BROWN = 6,
    VGA_LIGHT_GREY = 7,
    VGA_DARK_GREY = 8,
    VGA_LIGHT_BLUE = 9,
    VGA_LIGHT_GREEN = 10,
    VGA_LIGHT_CYAN = 11,
    VGA_LIGHT_RED = 12,
    VGA_LIGHT_MAGENTA = 13,
    VGA_YELLOW = 14,
    VGA_WHITE = 15,
};

/* Clear the screen to light grey on black and home the cursor. */
void vga_init(void);

/* Colour of the characters written from now on. */
void vga_set_color(enum vga_color fg, enum vga_color bg);

/* One character; understands \n, \r, \b (erase) and \t (to the next 8th column). */
void vga_putc(char c);

void vga_write(const char *s, size_t len);

#endif /* ARCH_X86_VGA_H */

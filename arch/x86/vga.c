/*
 * vga.c - the VGA text screen.
 *
 * In text mode 3 the screen is an 80x25 array of 16-bit cells, row after
 * row, in the 32 KB window at physical 0xB8000 (identity-mapped: no paging
 * yet):
 *
 *    15   12 11    8 7            0
 *   +-------+-------+--------------+
 *   |  bg   |  fg   |  code page   |
 *   |colour |colour |  437 char    |
 *   +-------+-------+--------------+
 *
 * The window holds 16384 cells but the screen shows 2000 of them, starting
 * at the CRT controller's start address.  We scroll by moving that start
 * down one row instead of copying 24 rows up: VGA memory is emulated, so
 * under KVM every access to it is a trip out of the guest, and a copying
 * scroll costs 4000 of them per line of output.  Only when the window is
 * used up are the visible rows copied back to its top, once every ~180 lines.
 *
 * Writes go through a volatile pointer because the memory is a device.  The
 * hardware cursor (CRTC registers 14/15) is an absolute cell index, like the
 * start address (CRTC registers 12/13).
 */
#include "vga.h"

#include "io.h"

#define VGA_WIDTH        80
#define VGA_HEIGHT       25
#define VGA_MEMORY       0xB8000
#define VGA_WINDOW_CELLS (32 * 1024 / 2)
#define VGA_CRTC_INDEX   0x3D4
#define VGA_CRTC_DATA    0x3D5
#define CRTC_START_HIGH  0x0C
#define CRTC_START_LOW   0x0D
#define CRTC_CURSOR_HIGH 0x0E
#define CRTC_CURSOR_LOW  0x0F
#define TAB_WIDTH        8

static volatile uint16_t *const vram = (volatile uint16_t *)VGA_MEMORY;
static size_t origin; /* cell index of the top-left corner of the screen */
static size_t row, column;
static uint8_t color;

static uint16_t cell(char c, uint8_t attr)
{
    return (uint16_t)(uint8_t)c | (uint16_t)attr << 8;
}

static volatile uint16_t *at(size_t r, size_t c)
{
    return &vram[origin + r * VGA_WIDTH + c];
}

/* CRTC registers are 8 bits: 16-bit values are split over a high/low pair. */
static void crtc_write16(uint8_t high_reg, uint8_t low_reg, uint16_t value)
{
    outb(VGA_CRTC_INDEX, high_reg);
    outb(VGA_CRTC_DATA, value >> 8);
    outb(VGA_CRTC_INDEX, low_reg);
    outb(VGA_CRTC_DATA, value & 0xFF);
}

static void move_cursor(void)
{
    crtc_write16(CRTC_CURSOR_HIGH, CRTC_CURSOR_LOW, (uint16_t)(origin + row * VGA_WIDTH + column));
}

static void clear_row(size_t r)
{
    for (size_t x = 0; x < VGA_WIDTH; x++)
        *at(r, x) = cell(' ', color);
}

static void scroll(void)
{
    if (origin + (VGA_HEIGHT + 1) * VGA_WIDTH <= VGA_WINDOW_CELLS) {
        origin += VGA_WIDTH;
    } else {
        /* Out of window: bring rows 1..24 back to the top. */
        for (size_t i = 0; i < (VGA_HEIGHT - 1) * VGA_WIDTH; i++)
            vram[i] = vram[origin + VGA_WIDTH + i];
        origin = 0;
    }
    clear_row(VGA_HEIGHT - 1);
    crtc_write16(CRTC_START_HIGH, CRTC_START_LOW, (uint16_t)origin);
}

static void newline(void)
{
    column = 0;
    if (++row == VGA_HEIGHT) {
        scroll();
        row = VGA_HEIGHT - 1;
    }
}

void vga_set_color(enum vga_color fg, enum vga_color bg)
{
    color = (uint8_t)(fg | bg << 4);
}

void vga_init(void)
{
    vga_set_color(VGA_LIGHT_GREY, VGA_BLACK);
    origin = 0;
    crtc_write16(CRTC_START_HIGH, CRTC_START_LOW, 0);
    for (size_t r = 0; r < VGA_HEIGHT; r++)
        clear_row(r);
    row = column = 0;
    move_cursor();
}

static void put_one(char c)
{
    switch (c) {
    case '\n':
        newline();
        break;
    case '\r':
        column = 0;
        break;
    case '\b': /* erase the previous character, as a terminal's "\b \b" would */
        if (column > 0) {
            column--;
            *at(row, column) = cell(' ', color);
        }
        break;
    case '\t':
        do
            put_one(' ');
        while (column % TAB_WIDTH != 0);
        break;
    default:
        *at(row, column) = cell(c, color);
        if (++column == VGA_WIDTH)
            newline();
        break;
    }
}

void vga_putc(char c)
{
    put_one(c);
    move_cursor();
}

void vga_write(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        put_one(s[i]);
    move_cursor();
}

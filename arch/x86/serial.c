/*
 * serial.c - COM1, a 16550-compatible UART, driven by polling.
 *
 * No interrupts: the kernel keeps IF clear, so transmit waits for the
 * holding register to empty and receive asks the line-status register.
 * Registers, at offsets from the base port 0x3F8:
 *
 *   +0  RBR (read) / THR (write); with LCR.DLAB=1: divisor low byte
 *   +1  IER interrupt enable;     with LCR.DLAB=1: divisor high byte
 *   +2  IIR (read): bits 7:6 = 11 when the FIFOs are on;  FCR (write)
 *   +3  LCR line control: data bits, parity, stop bits, DLAB
 *   +4  MCR modem control: DTR, RTS, OUT2, loopback
 *   +5  LSR line status: bit 0 data ready, bit 5 transmitter empty
 *   +7  SCR scratch: a plain byte of storage
 *
 * The baud rate is 115200 / divisor; we use divisor 1.
 *
 * We never write FCR: switching the FIFOs on or off flushes the receive
 * side, and input that arrived while the machine booted (typed ahead, or a
 * script piped into QEMU) would be lost.  For the same reason the presence
 * test uses the scratch register, not loopback, which would overwrite a
 * waiting byte.  If the firmware did turn the FIFOs on, we use them.
 */
#include "serial.h"

#include "smp.h"

#include <stdint.h>

#include "io.h"

#define COM1 0x3F8

#define UART_DATA 0
#define UART_IER  1
#define UART_IIR  2
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5
#define UART_SCR  7

#define LCR_8N1        0x03 /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB       0x80 /* divisor latch access */
#define IIR_FIFOS_ON   0xC0
#define MCR_DTR_RTS    0x03 /* OUT2 off: the UART must not raise IRQ 4 */
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20 /* with FIFOs on: the whole transmit FIFO is empty */
#define TX_FIFO_SIZE   16

/*
 * How long to wait for the transmitter before giving up on a byte.  A real
 * 16550 at 115200 baud drains a byte in ~87 us; this bound only matters
 * when the UART is broken, and then the console must not hang the kernel.
 */
#define TX_SPIN_LIMIT 1000000

static int serial_present;
static int tx_fifo_size; /* bytes an empty transmitter accepts */
static int tx_room;      /* bytes we may still write before asking LSR again */

int serial_init(void)
{
    /* Is anybody there?  Without a UART the port reads back 0xFF. */
    outb(COM1 + UART_SCR, 0x5A);
    serial_present = inb(COM1 + UART_SCR) == 0x5A;
    if (!serial_present)
        return 0;

    outb(COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, 1); /* divisor 1 = 115200 baud */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
    tx_fifo_size = (inb(COM1 + UART_IIR) & IIR_FIFOS_ON) == IIR_FIFOS_ON ? TX_FIFO_SIZE : 1;
    return 1;
}

/* With the FIFOs on, LSR is read once per 16 bytes instead of per byte. */
void serial_putc(char c)
{
    if (!serial_present)
        return;
    if (tx_room == 0) {
        for (int spin = 0; spin < TX_SPIN_LIMIT; spin++) {
            if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
                break;
            smp_poll_shootdown(); /* a slow line: another CPU's shootdown or fence meanwhile */
        }
        tx_room = tx_fifo_size;
    }
    tx_room--;
    outb(COM1 + UART_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}

int serial_getc_nonblock(void)
{
    if (!serial_present || !(inb(COM1 + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(COM1 + UART_DATA);
}

int serial_getc(void)
{
    int c;

    while ((c = serial_getc_nonblock()) < 0)
        smp_relax(); /* pause, and answer TLB shootdowns while we wait */
    return c;
}

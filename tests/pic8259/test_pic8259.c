/* SPDX-License-Identifier: MIT */
/*
 * The 8259A pair model: initialisation words, edge and level inputs,
 * masking, priorities and rotation, the EOI commands, auto-EOI, special
 * mask and special fully nested modes, the cascade, spurious IRQ 7, poll,
 * the ELCR, and the checkpoint image, as the 8259A data sheet and KVM's
 * i8259.c give them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/pic8259.h"

/* ICW1-ICW4 as a PC BIOS sends them (edge, cascade, 8086 mode), then
 * every input unmasked. */
static void init_pc(struct vmdl_pic8259 *p, uint8_t icw4)
{
    vmdl_pic8259_reset(p);
    vmdl_pic8259_write(p, 0x20, 0x11);
    vmdl_pic8259_write(p, 0x21, 0x08);
    vmdl_pic8259_write(p, 0x21, 0x04);
    vmdl_pic8259_write(p, 0x21, icw4);
    vmdl_pic8259_write(p, 0xA0, 0x11);
    vmdl_pic8259_write(p, 0xA1, 0x70);
    vmdl_pic8259_write(p, 0xA1, 0x02);
    vmdl_pic8259_write(p, 0xA1, icw4);
    vmdl_pic8259_write(p, 0x21, 0x00);
    vmdl_pic8259_write(p, 0xA1, 0x00);
}

static void pulse(struct vmdl_pic8259 *p, unsigned irq)
{
    vmdl_pic8259_set_irq(p, irq, true);
    vmdl_pic8259_set_irq(p, irq, false);
}

static uint8_t read_isr(struct vmdl_pic8259 *p, uint16_t base)
{
    vmdl_pic8259_write(p, base, 0x0B);       /* OCW3: read ISR */
    uint8_t v = vmdl_pic8259_read(p, base);
    vmdl_pic8259_write(p, base, 0x0A);       /* back to IRR */
    return v;
}

static void test_reset_and_init_sequence(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    vmdl_pic8259_reset(&p);
    assert_false(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_read(&p, 0x21), 0);
    init_pc(&p, 0x01);
    assert_int_equal(p.chip[0].irq_base, 0x08);
    assert_int_equal(p.chip[1].irq_base, 0x70);
    assert_int_equal(p.chip[0].init_state, 0);
    /* OCW1 after the sequence is the mask */
    vmdl_pic8259_write(&p, 0x21, 0xB8);
    assert_int_equal(vmdl_pic8259_read(&p, 0x21), 0xB8);
    /* ICW2's low three bits are not part of the base */
    vmdl_pic8259_write(&p, 0x20, 0x11);
    assert_int_equal(vmdl_pic8259_read(&p, 0x21), 0);   /* ICW1 clears IMR */
    vmdl_pic8259_write(&p, 0x21, 0x2F);
    vmdl_pic8259_write(&p, 0x21, 0x04);
    vmdl_pic8259_write(&p, 0x21, 0x01);
    assert_int_equal(p.chip[0].irq_base, 0x28);
    /* Without ICW4 (ICW1 bit 0 clear) the sequence ends at ICW3; single
     * mode (bit 1) skips ICW3 too. */
    vmdl_pic8259_write(&p, 0x20, 0x12);
    vmdl_pic8259_write(&p, 0x21, 0x40);
    assert_int_equal(p.chip[0].init_state, 0);
    vmdl_pic8259_write(&p, 0x21, 0xFE);
    assert_int_equal(vmdl_pic8259_read(&p, 0x21), 0xFE);
    /* Unknown ports */
    assert_int_equal(vmdl_pic8259_read(&p, 0x22), 0xFF);
    vmdl_pic8259_write(&p, 0x22, 0x11);
    assert_int_equal(p.chip[0].init_state, 0);
}

static void test_edge_request_acknowledged_with_vector(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    pulse(&p, 3);
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x08);   /* IRR: latched */
    assert_int_equal(vmdl_pic8259_peek(&p), 0x0B);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0B);
    assert_false(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0);       /* edge consumed */
    assert_int_equal(read_isr(&p, 0x20), 0x08);
    /* A new edge of the same IRQ waits for the EOI */
    pulse(&p, 3);
    assert_false(vmdl_pic8259_output(&p));
    vmdl_pic8259_write(&p, 0x20, 0x20);                     /* non-specific EOI */
    assert_int_equal(read_isr(&p, 0x20), 0);
    assert_true(vmdl_pic8259_output(&p));
    /* Holding the line high is one request: no new edge */
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0B);
    vmdl_pic8259_write(&p, 0x20, 0x20);
    vmdl_pic8259_set_irq(&p, 3, true);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0B);
    vmdl_pic8259_write(&p, 0x20, 0x20);
    vmdl_pic8259_set_irq(&p, 3, true);
    assert_false(vmdl_pic8259_output(&p));
}

static void test_mask_holds_request(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    vmdl_pic8259_write(&p, 0x21, 0x10);                     /* mask IRQ 4 */
    pulse(&p, 4);
    assert_false(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x10);   /* latched anyway */
    vmdl_pic8259_write(&p, 0x21, 0x00);
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0C);
}

static void test_priority_and_nesting(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    pulse(&p, 5);
    pulse(&p, 1);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x09);          /* IRQ 1 first */
    /* IRQ 5 waits below in-service IRQ 1; IRQ 0 nests above it */
    assert_false(vmdl_pic8259_output(&p));
    pulse(&p, 0);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x08);
    assert_int_equal(read_isr(&p, 0x20), 0x03);
    /* The non-specific EOI ends the highest-priority in-service IRQ: 0 */
    vmdl_pic8259_write(&p, 0x20, 0x20);
    assert_int_equal(read_isr(&p, 0x20), 0x02);
    assert_false(vmdl_pic8259_output(&p));
    /* A specific EOI ends a given one */
    vmdl_pic8259_write(&p, 0x20, 0x61);
    assert_int_equal(read_isr(&p, 0x20), 0);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0D);
}

static void test_rotation(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    pulse(&p, 3);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0B);
    vmdl_pic8259_write(&p, 0x20, 0xA0);            /* rotate on non-specific EOI */
    assert_int_equal(p.chip[0].priority_add, 4);   /* IRQ 3 now lowest */
    pulse(&p, 3);
    pulse(&p, 6);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0E);  /* 6 before 3 */
    vmdl_pic8259_write(&p, 0x20, 0x20);
    /* Set priority: IRQ 6 lowest, so 7 highest */
    vmdl_pic8259_write(&p, 0x20, 0xC6);
    pulse(&p, 7);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0F);
    /* Rotate on specific EOI of IRQ 7: 0 highest again */
    vmdl_pic8259_write(&p, 0x20, 0xE7);
    assert_int_equal(p.chip[0].priority_add, 0);
    assert_int_equal(read_isr(&p, 0x20), 0);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0B);
}

static void test_auto_eoi(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x03);                              /* ICW4: AEOI, 8086 */
    pulse(&p, 4);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0C);
    assert_int_equal(read_isr(&p, 0x20), 0);        /* never in service */
    pulse(&p, 4);
    assert_true(vmdl_pic8259_output(&p));
    /* rotate in auto-EOI mode: set, then the acknowledged IRQ goes lowest */
    vmdl_pic8259_write(&p, 0x20, 0x80);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0C);
    assert_int_equal(p.chip[0].priority_add, 5);
    vmdl_pic8259_write(&p, 0x20, 0x00);
    assert_false(p.chip[0].rotate_on_aeoi);
}

static void test_level_inputs_and_elcr(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    /* IRQ 0-2 of the master and 8, 13 of the slave are edge-only */
    vmdl_pic8259_write(&p, 0x4D0, 0xFF);
    vmdl_pic8259_write(&p, 0x4D1, 0xFF);
    assert_int_equal(vmdl_pic8259_read(&p, 0x4D0), 0xF8);
    assert_int_equal(vmdl_pic8259_read(&p, 0x4D1), 0xDE);
    vmdl_pic8259_write(&p, 0x4D1, 0x08);            /* IRQ 11 level */
    vmdl_pic8259_set_irq(&p, 11, true);
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_inta(&p), 0x73);  /* through the cascade */
    /* Acknowledged but the line is still high: IRR keeps it */
    assert_int_equal(vmdl_pic8259_read(&p, 0xA0), 0x08);
    vmdl_pic8259_write(&p, 0xA0, 0x20);
    vmdl_pic8259_write(&p, 0x20, 0x20);
    assert_true(vmdl_pic8259_output(&p));           /* asserted again */
    vmdl_pic8259_set_irq(&p, 11, false);            /* line drops: gone ... */
    assert_int_equal(vmdl_pic8259_read(&p, 0xA0), 0);
    /* ... but the master latched the cascade's edge: the slave answers
     * with its spurious IRQ 7, nothing put in service */
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_inta(&p), 0x77);
    assert_int_equal(read_isr(&p, 0xA0), 0);
    vmdl_pic8259_write(&p, 0x20, 0x20);
    assert_false(vmdl_pic8259_output(&p));
    /* ICW1.LTIM: every input level-triggered */
    vmdl_pic8259_write(&p, 0x20, 0x19);
    vmdl_pic8259_write(&p, 0x21, 0x08);
    vmdl_pic8259_write(&p, 0x21, 0x04);
    vmdl_pic8259_write(&p, 0x21, 0x01);
    vmdl_pic8259_set_irq(&p, 5, true);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0D);
    assert_int_equal(vmdl_pic8259_read(&p, 0x20) & 0x20, 0x20);
}

static void test_cascade_and_spurious(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    pulse(&p, 14);
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x04);   /* master IRQ 2 */
    assert_int_equal(vmdl_pic8259_inta(&p), 0x76);
    assert_int_equal(read_isr(&p, 0x20), 0x04);
    assert_int_equal(read_isr(&p, 0xA0), 0x40);
    vmdl_pic8259_write(&p, 0xA0, 0x20);
    vmdl_pic8259_write(&p, 0x20, 0x20);
    /* INTA with INTR low: the master's IRQ 7, nothing put in service */
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0F);
    assert_int_equal(read_isr(&p, 0x20), 0);
    /* The slave's request withdrawn (masked) after the master latched the
     * cascade: the slave's spurious IRQ 7 */
    pulse(&p, 9);
    vmdl_pic8259_write(&p, 0xA1, 0x02);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x77);
    assert_int_equal(read_isr(&p, 0xA0), 0);
}

static void test_special_fully_nested(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x11);                               /* ICW4: SFNM */
    pulse(&p, 12);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x74);
    /* A higher slave request nests although the cascade is in service */
    pulse(&p, 9);
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_inta(&p), 0x71);
    /* Without SFNM it would wait */
    init_pc(&p, 0x01);
    pulse(&p, 12);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x74);
    pulse(&p, 9);
    assert_false(vmdl_pic8259_output(&p));
}

static void test_special_mask_mode(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    pulse(&p, 1);
    assert_int_equal(vmdl_pic8259_inta(&p), 0x09);
    pulse(&p, 5);
    assert_false(vmdl_pic8259_output(&p));          /* below in-service 1 */
    vmdl_pic8259_write(&p, 0x21, 0x02);             /* mask IRQ 1 */
    vmdl_pic8259_write(&p, 0x20, 0x68);             /* OCW3: set special mask */
    assert_true(vmdl_pic8259_output(&p));
    assert_int_equal(vmdl_pic8259_inta(&p), 0x0D);
    vmdl_pic8259_write(&p, 0x20, 0x48);             /* reset special mask */
    assert_false(p.chip[0].special_mask);
}

static void test_poll(void **state)
{
    (void)state;
    struct vmdl_pic8259 p;
    init_pc(&p, 0x01);
    vmdl_pic8259_write(&p, 0x20, 0x0C);             /* OCW3: poll */
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x07);   /* none */
    pulse(&p, 6);
    vmdl_pic8259_write(&p, 0x20, 0x0C);
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x86);
    assert_false(vmdl_pic8259_output(&p));
    assert_int_equal(read_isr(&p, 0x20), 0);        /* KVM: taken and done */
    /* The poll is one read: the next one reads IRR again */
    pulse(&p, 6);
    assert_int_equal(vmdl_pic8259_read(&p, 0x20), 0x40);
}

static void test_image_round_trip_and_refusals(void **state)
{
    (void)state;
    struct vmdl_pic8259 p, q;
    init_pc(&p, 0x01);
    pulse(&p, 10);
    vmdl_pic8259_write(&p, 0x4D0, 0x20);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_pic8259_export(&p, &blob, &len), 0);
    vmdl_pic8259_reset(&q);
    assert_int_equal(vmdl_pic8259_import(&q, blob, len), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    assert_int_equal(vmdl_pic8259_inta(&q), 0x72);
    /* Refused: wrong length, magic, a bool that is not 0/1, ELCR bits
     * outside the mask; the state stays */
    assert_int_equal(vmdl_pic8259_import(&q, blob, len - 1), VMDL_EINVAL);
    blob[0] ^= 1;
    assert_int_equal(vmdl_pic8259_import(&q, blob, len), VMDL_EINVAL);
    blob[0] ^= 1;
    blob[8 + 10] = 2;
    assert_int_equal(vmdl_pic8259_import(&q, blob, len), VMDL_EINVAL);
    blob[8 + 10] = 1;
    blob[8 + 4] = 0x01;
    assert_int_equal(vmdl_pic8259_import(&q, blob, len), VMDL_EINVAL);
    assert_int_equal(read_isr(&q, 0xA0), 0x04);
    assert_int_equal(vmdl_pic8259_import(&q, NULL, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_pic8259_export(NULL, &blob, &len), VMDL_EINVAL);
    free(blob);
}

/* An import restores the state as exported and does not step it.  The
 * cascade input is edge-detected: with the master's IR2 line already held
 * high when the slave starts requesting, the slave's pulse finds no edge
 * and leaves IR2's request bit clear (as KVM's pic_update_irq does); an
 * import that re-ran that pulse on the imported state would latch it. */
static void test_image_keeps_cascade_edge_state(void **state)
{
    (void)state;
    struct vmdl_pic8259 p, q;
    init_pc(&p, 0x01);
    vmdl_pic8259_set_irq(&p, 2, true);          /* IR2 high: a rising edge */
    assert_int_equal(vmdl_pic8259_inta(&p), 0x77);  /* cascade, slave spurious */
    vmdl_pic8259_write(&p, 0x20, 0x20);          /* non-specific EOI */
    vmdl_pic8259_set_irq(&p, 10, true);          /* slave requests, IR2 still high */
    assert_int_equal(vmdl_pic8259_read(&p, 0x20) & 0x04, 0);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_pic8259_export(&p, &blob, &len), 0);
    vmdl_pic8259_reset(&q);
    assert_int_equal(vmdl_pic8259_import(&q, blob, len), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_and_init_sequence),
        cmocka_unit_test(test_edge_request_acknowledged_with_vector),
        cmocka_unit_test(test_mask_holds_request),
        cmocka_unit_test(test_priority_and_nesting),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_auto_eoi),
        cmocka_unit_test(test_level_inputs_and_elcr),
        cmocka_unit_test(test_cascade_and_spurious),
        cmocka_unit_test(test_special_fully_nested),
        cmocka_unit_test(test_special_mask_mode),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_image_round_trip_and_refusals),
        cmocka_unit_test(test_image_keeps_cascade_edge_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

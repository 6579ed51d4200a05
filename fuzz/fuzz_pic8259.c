/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pic8259: the 8259A pair driven by port writes and reads (any port,
 * any value: ICWs in any order, OCW2/OCW3 commands, the ELCR), input line
 * changes, interrupt acknowledges, resets and state images; and the 8254
 * PIT by port accesses at increasing times.
 *
 * Invariants after every step:
 *  - INTR is high exactly when an acknowledge would return a vector
 *    (peek >= 0), and the acknowledge returns what peek said;
 *  - an acknowledge with INTR low returns the master's spurious vector
 *    (base + 7) and changes nothing in service;
 *  - the ELCR never has bits outside KVM's masks (0xF8 / 0xDE);
 *  - export -> import reproduces the state; a truncated or corrupted
 *    image is refused and changes nothing;
 *  - the PIT's next output change lies after the time asked about, and
 *    the output does not change before it.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/pc_pit.h"
#include "virtmodel/pic8259.h"

static const uint16_t ports[] = { 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x22, 0x40 };

static void check_pic(struct vmdl_pic8259 *p)
{
    int peek = vmdl_pic8259_peek(p);
    FZ_CHECK(vmdl_pic8259_output(p) == (peek >= 0), "INTR %d, peek %d",
             vmdl_pic8259_output(p), peek);
    FZ_CHECK(!(p->chip[0].elcr & ~VMDL_PIC_ELCR_MASK_MASTER) &&
             !(p->chip[1].elcr & ~VMDL_PIC_ELCR_MASK_SLAVE), "ELCR %02x %02x",
             p->chip[0].elcr, p->chip[1].elcr);
    FZ_CHECK(p->chip[0].init_state <= 3 && p->chip[1].init_state <= 3, "init state");
}

static void step_inta(struct vmdl_pic8259 *p)
{
    int peek = vmdl_pic8259_peek(p);
    struct vmdl_pic8259 before = *p;
    uint8_t v = vmdl_pic8259_inta(p);
    if (peek >= 0) {
        FZ_CHECK(v == peek, "INTA %02x, peek said %02x", v, peek);
    } else {
        FZ_CHECK(v == (uint8_t)(before.chip[0].irq_base + 7), "spurious %02x", v);
        FZ_CHECK(p->chip[0].isr == before.chip[0].isr &&
                 p->chip[1].isr == before.chip[1].isr, "spurious INTA set ISR");
    }
}

static void step_image(struct vmdl_pic8259 *p, struct fz *f)
{
    uint8_t *blob;
    size_t len;
    FZ_CHECK(vmdl_pic8259_export(p, &blob, &len) == 0, "export");
    struct vmdl_pic8259 q;
    vmdl_pic8259_reset(&q);
    FZ_CHECK(vmdl_pic8259_import(&q, blob, len) == 0, "import of an export");
    FZ_CHECK(!memcmp(&q, p, sizeof(q)), "round trip changed the state");
    FZ_CHECK(vmdl_pic8259_import(&q, blob, len - 1) == VMDL_EINVAL, "short image");
    size_t at = fz_u8(f) % len;
    blob[at] ^= (uint8_t)(fz_u8(f) | 1);
    struct vmdl_pic8259 keep = q;
    if (vmdl_pic8259_import(&q, blob, len) != 0)
        FZ_CHECK(!memcmp(&q, &keep, sizeof(q)), "refused import changed the state");
    else
        check_pic(&q);
    free(blob);
}

static void step_pit(struct vmdl_pit *t, uint64_t *now, struct fz *f)
{
    *now += fz_u32(f);
    unsigned op = fz_pick(f, 3);
    uint16_t port = fz_bool(f) ? VMDL_PIT_PORT_61 : (uint16_t)(VMDL_PIT_PORT + fz_pick(f, 4));
    if (op == 0)
        vmdl_pit_write(t, port, fz_u8(f), *now);
    else
        (void)vmdl_pit_read(t, port, *now);
    for (unsigned ch = 0; ch < 3; ch++) {
        uint64_t next = vmdl_pit_next_change(t, ch, *now);
        FZ_CHECK(next > *now, "channel %u: next change %llu not after %llu", ch,
                 (unsigned long long)next, (unsigned long long)*now);
        if (next != UINT64_MAX && next - *now > 1)
            FZ_CHECK(vmdl_pit_out(t, ch, next - 1) == vmdl_pit_out(t, ch, *now),
                     "channel %u changed before its next change", ch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct vmdl_pic8259 p;
    struct vmdl_pit t;
    uint64_t now = 0;
    vmdl_pic8259_reset(&p);
    vmdl_pit_reset(&t);
    for (unsigned steps = 0; fz_more(&f) && steps < 4096; steps++) {
        unsigned op = fz_pick(&f, 8);
        FZ_TRACE("op %u\n", op);
        switch (op) {
        case 0: case 1:
            vmdl_pic8259_write(&p, ports[fz_pick(&f, 8)], fz_u8(&f));
            break;
        case 2:
            (void)vmdl_pic8259_read(&p, ports[fz_pick(&f, 8)]);
            break;
        case 3: case 4:
            vmdl_pic8259_set_irq(&p, fz_pick(&f, 17), fz_bool(&f));
            break;
        case 5:
            step_inta(&p);
            break;
        case 6:
            if (fz_pick(&f, 16) == 0)
                vmdl_pic8259_reset(&p);
            else
                step_image(&p, &f);
            break;
        default:
            step_pit(&t, &now, &f);
            break;
        }
        check_pic(&p);
    }
    return 0;
}

/* Seeds: a BIOS initialisation then requests, EOIs and acknowledges; a
 * level input through the cascade; the PIT programmed as the BIOS does. */
static void write_seeds(const char *dir)
{
    static const uint8_t init[][2] = { {0, 0x11}, {2, 0x11}, {1, 0x08}, {3, 0x70},
                                       {1, 0x04}, {3, 0x02}, {1, 0x01}, {3, 0x01},
                                       {1, 0x00}, {3, 0x00} };
    struct fz_out o = { .len = 0 };
    for (unsigned i = 0; i < 10; i++) {
        fz_put8(&o, 0);
        fz_put8(&o, init[i][0]);
        fz_put8(&o, init[i][1]);
    }
    struct fz_out a = o;
    static const uint8_t ops[] = { 3, 3, 1, 3, 3, 0, 5, 3, 9, 1, 5, 0, 0, 0x20, 5, 6, 1, 0 };
    for (unsigned i = 0; i < sizeof(ops); i++)
        fz_put8(&a, ops[i]);
    fz_save_out(dir, "init-edge-eoi", &a);
    struct fz_out b = o;
    static const uint8_t lvl[] = { 0, 5, 0x08, 3, 11, 1, 5, 0, 2, 0x20, 0, 0, 0x20,
                                   3, 11, 0, 5, 6, 3, 0 };
    for (unsigned i = 0; i < sizeof(lvl); i++)
        fz_put8(&b, lvl[i]);
    fz_save_out(dir, "level-cascade", &b);
    struct fz_out c = { .len = 0 };
    static const uint8_t pit[] = { 7, 0, 0, 0, 0, 0, 0, 3, 0x36, 7, 0, 0, 0, 0, 0, 0, 0, 0,
                                   7, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0xFF, 0xFF, 0, 0, 1, 0 };
    for (unsigned i = 0; i < sizeof(pit); i++)
        fz_put8(&c, pit[i]);
    fz_save_out(dir, "pit-bios", &c);
}

FZ_SEED_WRITER_MAIN()

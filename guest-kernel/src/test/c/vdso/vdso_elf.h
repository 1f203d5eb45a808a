/*
 * Finding a function in a vDSO image the way a libc does: from the ELF header in memory, through the
 * dynamic section, the symbol table, a hash table (DT_HASH, as musl uses it, or DT_GNU_HASH, as glibc
 * uses it) and the symbol version (LINUX_2.6). Written for the vDSO tests; shared by vdso_test and
 * vdso_launch.
 */
#ifndef FLICKER_VDSO_ELF_H
#define FLICKER_VDSO_ELF_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

struct vdso_image {
    uintptr_t load_bias;        /* address of the image - p_vaddr of its PT_LOAD */
    const Elf64_Sym *symtab;
    const char *strtab;
    const uint32_t *hash;       /* DT_HASH */
    const uint32_t *gnu_hash;   /* DT_GNU_HASH */
    const uint16_t *versym;
    const Elf64_Verdef *verdef;
    int relocations;            /* any of DT_REL, DT_RELA, DT_JMPREL, DT_TEXTREL */
};

/* 0 on success, else a message. */
static inline const char *vdso_image_open(const void *image, struct vdso_image *out) {
    const Elf64_Ehdr *eh = image;
    memset(out, 0, sizeof *out);
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return "not ELF64";
    if (eh->e_type != ET_DYN || eh->e_machine != EM_X86_64) return "not an x86-64 shared object";
    const Elf64_Phdr *ph = (const Elf64_Phdr *) ((const char *) image + eh->e_phoff);
    const Elf64_Dyn *dyn = 0;
    int loads = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            loads++;
            out->load_bias = (uintptr_t) image + ph[i].p_offset - ph[i].p_vaddr;
        }
    }
    if (loads != 1) return "not exactly one PT_LOAD";
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn *) (out->load_bias + ph[i].p_vaddr);
    }
    if (!dyn) return "no PT_DYNAMIC";
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t at = out->load_bias + dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
            case DT_SYMTAB: out->symtab = (const Elf64_Sym *) at; break;
            case DT_STRTAB: out->strtab = (const char *) at; break;
            case DT_HASH: out->hash = (const uint32_t *) at; break;
            case DT_GNU_HASH: out->gnu_hash = (const uint32_t *) at; break;
            case DT_VERSYM: out->versym = (const uint16_t *) at; break;
            case DT_VERDEF: out->verdef = (const Elf64_Verdef *) at; break;
            case DT_REL: case DT_RELA: case DT_JMPREL: case DT_TEXTREL: out->relocations = 1; break;
        }
    }
    if (!out->symtab || !out->strtab) return "no DT_SYMTAB or DT_STRTAB";
    if (!out->hash || !out->gnu_hash) return "not both DT_HASH and DT_GNU_HASH";
    if (!out->versym || !out->verdef) return "no symbol versions";
    return 0;
}

/* Does symbol i carry version `version` (e.g. LINUX_2.6)? */
static inline int vdso_symbol_has_version(const struct vdso_image *im, uint32_t i, const char *version) {
    uint16_t index = im->versym[i] & 0x7fff;
    const Elf64_Verdef *vd = im->verdef;
    for (;;) {
        if (!(vd->vd_flags & VER_FLG_BASE) && vd->vd_ndx == index) {
            const Elf64_Verdaux *aux = (const Elf64_Verdaux *) ((const char *) vd + vd->vd_aux);
            return strcmp(im->strtab + aux->vda_name, version) == 0;
        }
        if (!vd->vd_next) return 0;
        vd = (const Elf64_Verdef *) ((const char *) vd + vd->vd_next);
    }
}

static inline int vdso_symbol_matches(const struct vdso_image *im, uint32_t i, const char *name, const char *version) {
    const Elf64_Sym *s = &im->symtab[i];
    int type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
    return type == STT_FUNC && (bind == STB_GLOBAL || bind == STB_WEAK) && s->st_shndx != SHN_UNDEF &&
           strcmp(im->strtab + s->st_name, name) == 0 && vdso_symbol_has_version(im, i, version);
}

/* Through DT_HASH: every symbol, its count taken from nchain (musl's way). */
static inline void *vdso_lookup_hash(const struct vdso_image *im, const char *name, const char *version) {
    uint32_t nchain = im->hash[1];
    for (uint32_t i = 0; i < nchain; i++)
        if (vdso_symbol_matches(im, i, name, version)) return (void *) (im->load_bias + im->symtab[i].st_value);
    return 0;
}

static inline uint32_t gnu_hash_of(const char *name) {
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *) name; *c; c++) h = h * 33 + *c;
    return h;
}

/* Through DT_GNU_HASH: the bloom filter, the bucket, then the chain (glibc's way). */
static inline void *vdso_lookup_gnu_hash(const struct vdso_image *im, const char *name, const char *version) {
    const uint32_t *gh = im->gnu_hash;
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2], bloom_shift = gh[3];
    const uint64_t *bloom = (const uint64_t *) (gh + 4);
    const uint32_t *buckets = (const uint32_t *) (bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash_of(name);
    uint64_t word = bloom[(h / 64) % bloom_size];
    uint64_t mask = (1ULL << (h % 64)) | (1ULL << ((h >> bloom_shift) % 64));
    if ((word & mask) != mask) return 0;
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset) return 0;
    for (;; i++) {
        uint32_t ch = chain[i - symoffset];
        if ((ch | 1) == (h | 1) && vdso_symbol_matches(im, i, name, version))
            return (void *) (im->load_bias + im->symtab[i].st_value);
        if (ch & 1) return 0;
    }
}

#endif

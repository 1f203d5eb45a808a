package dev.flicker.guest;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Both halves of the micro guest's kernel agree on the host-call ABI: the built image's header vs HostCallAbi. */
class HostCallAbiTest {
    @Test
    void imageHeaderMatchesTheHost() {
        GuestImage.Header h = GuestImage.builtIn().header();
        assertEquals(HostCallAbi.IMAGE_MAGIC, h.magic());
        assertEquals(HostCallAbi.VERSION, h.abiVersion());
        assertEquals(HostCallAbi.kernelVa(HostCallAbi.HOSTCALL_PAGE_GPA), h.hostcallPageVa());
        assertEquals(HostCallAbi.DOORBELL_VA, h.doorbellVa());
        assertEquals(HostCallAbi.DOORBELL_GPA, h.doorbellGpa());
        assertEquals(HostCallAbi.EXCEPTION_PORT_BASE, h.exceptionPortBase());
        assertEquals(HostCallAbi.HC_NR, h.hcNr());
        assertEquals(HostCallAbi.HC_ARG0, h.hcArg0());
        assertEquals(HostCallAbi.HC_RIP, h.hcRip());
        assertEquals(HostCallAbi.HC_RFLAGS, h.hcRflags());
        assertEquals(HostCallAbi.HC_RET, h.hcRet());
        assertEquals(HostCallAbi.HC_USER_RSP, h.hcUserRsp());
        assertEquals(HostCallAbi.HC_SCRATCH_TOP, h.hcScratchTop());
    }

    @Test
    void entryPointsLieInTheImageText() {
        GuestImage.Header h = GuestImage.builtIn().header();
        long text = HostCallAbi.kernelVa(HostCallAbi.IMAGE_TEXT_PHYS);
        long end = text + GuestImage.builtIn().textPages() * 4096;
        assertEquals(true, h.syscallEntry() > text && h.syscallEntry() < end);
        assertEquals(true, h.exceptionVectors() > text && h.exceptionVectors() + 32 * 16 <= end);
    }

    @Test
    void imageCarriesAPvhEntryForStandardVmms() {
        var note = GuestImage.builtIn().elf().segments().stream()
                .filter(s -> s.type() == dev.flicker.guest.elf.ElfFile.PT_NOTE).findFirst().orElseThrow();
        var bytes = GuestImage.builtIn().elf().contents(note);
        assertEquals(18, bytes.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 8)); // XEN_ELFNOTE_PHYS32_ENTRY
        assertEquals(HostCallAbi.IMAGE_PHYS, bytes.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 16));
    }
}

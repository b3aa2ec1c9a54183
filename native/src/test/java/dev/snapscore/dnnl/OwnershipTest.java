package dev.snapscore.dnnl;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Handles handed to an arena are destroyed once, when it closes, and refuse use afterwards instead of crashing. */
class OwnershipTest {

    @Test
    void anArenaDestroysWhatItOwnsOnceWhenItCloses() {
        long before = Dnnl.liveHandles();
        MemoryDesc desc;
        Primitive primitive;
        try (Arena owner = Arena.ofShared(); DnnlEngine engine = DnnlEngine.cpu()) {
            desc = MemoryDesc.of(new long[] {2, 3}, FormatTag.AB).ownedBy(owner);
            try (MemoryDesc dst = MemoryDesc.of(new long[] {2, 3}, DataType.S8, FormatTag.AB);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.reorder(engine, desc, dst, attr)) {
                primitive = pd.createPrimitive().ownedBy(owner);
            }
            assertEquals(before + 3, Dnnl.liveHandles(), "the engine and the two owned handles");
            desc.close(); // owned: does nothing, the arena destroys it
            assertEquals(24, desc.byteSize());
        }
        assertEquals(before, Dnnl.liveHandles());
        var e = assertThrows(IllegalStateException.class, desc::byteSize);
        assertTrue(e.getMessage().contains("memory_desc was freed with the arena"), e.getMessage());
        desc.close(); // still nothing: no second destroy
        assertEquals(before, Dnnl.liveHandles());
        assertThrows(IllegalStateException.class, () -> primitive.ownedBy(Arena.ofAuto()));
    }

    /** A primitive whose arena closed refuses to run; its arguments' memory objects likewise refuse to be laid out. */
    @Test
    void runningAfterTheOwnerClosedThrows() {
        try (DnnlEngine engine = DnnlEngine.cpu(); DnnlStream stream = DnnlStream.create(engine); Arena buffers = Arena.ofConfined()) {
            Primitive reorder;
            DnnlMemory src, dst;
            try (Arena owner = Arena.ofConfined();
                 MemoryDesc desc = MemoryDesc.of(new long[] {4}, FormatTag.A);
                 PrimitiveAttr attr = PrimitiveAttr.create(false);
                 PrimitiveDesc pd = PrimitiveDesc.reorder(engine, desc, desc, attr)) {
                reorder = pd.createPrimitive().ownedBy(owner);
                src = DnnlMemory.wrap(engine, desc, desc.allocate(buffers)).ownedBy(owner);
                dst = DnnlMemory.wrap(engine, desc, desc.allocate(buffers)).ownedBy(owner);
                reorder.execute(stream, ExecArgs.of(buffers, Map.of(Arg.SRC, src, Arg.DST, dst)));
                stream.await();
            }
            ExecArgs none = ExecArgs.of(buffers, Map.of());
            assertThrows(IllegalStateException.class, () -> reorder.execute(stream, none));
            assertThrows(IllegalStateException.class, () -> ExecArgs.of(buffers, Map.of(Arg.SRC, src)));
            assertThrows(IllegalStateException.class, () -> src.setBuffer(buffers.allocate(16, 64)));
        }
    }

    @Test
    void aClosedHandleCannotBeHandedOn() {
        MemoryDesc desc = MemoryDesc.of(new long[] {1}, FormatTag.A);
        desc.close();
        try (Arena owner = Arena.ofConfined()) {
            assertThrows(IllegalStateException.class, () -> desc.ownedBy(owner));
        }
        Arena closed = Arena.ofConfined();
        closed.close();
        try (MemoryDesc open = MemoryDesc.of(new long[] {1}, FormatTag.A)) {
            assertThrows(IllegalStateException.class, () -> open.ownedBy(closed));
            assertEquals(4, open.byteSize(), "still the caller's to close");
        }
    }
}

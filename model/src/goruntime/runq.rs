//! A P's local run queue: a 256-slot ring (`runtime2.go: p.runq [256]guintptr`).
//!
//! Only the ring mechanics live here; `runqput`/`runqget`/`runqgrab` in proc.rs follow proc.go.

use super::runtime2::Gi;

/// Capacity of a P's local run queue (`len(pp.runq)`).
pub const RUNQ_LEN: u32 = 256;

pub(crate) struct RunQ {
    buf: Box<[Gi; RUNQ_LEN as usize]>,
    head: u32,
    tail: u32,
}

impl RunQ {
    pub fn new() -> Self {
        Self {
            buf: Box::new([0; RUNQ_LEN as usize]),
            head: 0,
            tail: 0,
        }
    }
    #[inline]
    pub fn len(&self) -> u32 {
        self.tail.wrapping_sub(self.head)
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() >= RUNQ_LEN
    }
    #[inline]
    pub fn push_back(&mut self, g: Gi) {
        debug_assert!(!self.is_full());
        self.buf[(self.tail % RUNQ_LEN) as usize] = g;
        self.tail = self.tail.wrapping_add(1);
    }
    #[inline]
    pub fn pop_front(&mut self) -> Option<Gi> {
        if self.is_empty() {
            return None;
        }
        let g = self.buf[(self.head % RUNQ_LEN) as usize];
        self.head = self.head.wrapping_add(1);
        Some(g)
    }
    /// From the tail (`pp.destroy`'s `runqtail--`).
    #[inline]
    pub fn pop_back(&mut self) -> Option<Gi> {
        if self.is_empty() {
            return None;
        }
        self.tail = self.tail.wrapping_sub(1);
        Some(self.buf[(self.tail % RUNQ_LEN) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_wraps() {
        let mut q = RunQ::new();
        for round in 0..3u32 {
            for i in 0..RUNQ_LEN {
                q.push_back(round * 1000 + i);
            }
            assert!(q.is_full());
            for i in 0..RUNQ_LEN {
                assert_eq!(q.pop_front(), Some(round * 1000 + i));
            }
            assert!(q.is_empty());
        }
    }
}

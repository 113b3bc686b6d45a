import CLibDW
/// Namespace of the symbolizer (libdw, markup); filled in by the symbolizer work.
public enum Symbolizer {}

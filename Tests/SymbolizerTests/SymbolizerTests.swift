import Testing
@testable import Symbolizer
@Test func symbolizerLinks() { _ = Symbolizer.self }

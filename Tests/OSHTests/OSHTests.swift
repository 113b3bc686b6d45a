import Testing
@testable import OSH
@Test func oshParsesNoArguments() throws { _ = try OSH.parseAsRoot([]) }

import Testing
@testable import OSH
@Test func integrationPlaceholderLinks() { _ = OSH.self }

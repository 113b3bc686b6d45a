import OSH
OSH.main()

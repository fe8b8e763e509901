from watershed.cli import main

main()

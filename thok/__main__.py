from thok.cli import main

main()

from tinyee.cli import main

main()

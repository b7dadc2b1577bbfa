# Copies config FROM to TO with its relative paths ("../...") made absolute, since
# they resolve against the config file's folder and the copy lives elsewhere.
get_filename_component(base ${FROM} DIRECTORY)
file(READ ${FROM} text)
string(REPLACE "\"../" "\"${base}/../" text "${text}")
file(WRITE ${TO} "${text}")
